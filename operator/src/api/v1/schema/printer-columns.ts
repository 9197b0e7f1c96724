/** The columns `kubectl get` shows, shared by both kinds around each kind's own. */
import { listed } from '../../../sentence.ts';
import { type Phases, phaseNames } from '../status.ts';

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description: string;
  priority?: number;
}

/** Before the kind's columns. */
export const leadingColumns: PrinterColumn[] = [
  { name: 'Repository', type: 'string', jsonPath: '.spec.repository.url', description: 'Repository URL.' },
];

/** After the kind's columns: Ready and its message only in `-o wide`, to keep the default view narrow. */
export const trailingColumns: PrinterColumn[] = [
  {
    name: 'Ready',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: 'Ready condition.',
    priority: 1,
  },
  {
    name: 'Message',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].message',
    description: 'Ready condition message.',
    priority: 1,
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'Age.' },
];

export function phaseColumn(phases: Phases): PrinterColumn {
  return {
    name: 'Phase',
    type: 'string',
    jsonPath: '.status.phase',
    description: `${listed(phaseNames(phases), 'or')}.`,
  };
}
