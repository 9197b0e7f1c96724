/** What the CRD generator needs to know about a kind besides its names: its text, schemas and columns. */
import type { TSchema } from 'typebox';
import type { KindDefinition } from '../meta.ts';
import type { PrinterColumn } from './printer-columns.ts';

export interface KindSchema extends KindDefinition {
  /** What `kubectl explain` shows for the kind. */
  description: string;
  spec: TSchema;
  status: TSchema;
  printerColumns: PrinterColumn[];
}
