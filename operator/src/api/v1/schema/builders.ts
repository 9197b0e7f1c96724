/** Schema builders the kinds share: the shapes structural CRD schemas need that TypeBox does not give as is. */
import Type from 'typebox';
import { limits } from '../limits.ts';
import { type CelRule, dns1123Subdomain } from './validation.ts';

export function validations(rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A string enum with `type: string`, which structural CRD schemas require (TypeBox's Enum omits it). */
export function StringEnum<const T extends readonly string[]>(values: T, options: Record<string, unknown>) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export function KubernetesName(description: string) {
  return Type.String({ description, minLength: 1, maxLength: limits.kubernetesName, pattern: dns1123Subdomain });
}

export const Time = (description: string) => Type.String({ description, format: 'date-time' });
