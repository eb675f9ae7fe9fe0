// Minimal structural introspection of the zod schema, shared by the environment
// overrides and the generated configuration reference: both must follow the schema
// exactly so that no key is forgotten.
import type { z } from 'zod';

export type SchemaNode =
  | { kind: 'object'; shape: Readonly<Record<string, z.ZodType>> }
  | { kind: 'record'; value: z.ZodType }
  | { kind: 'array'; element: z.ZodType }
  | { kind: 'leaf'; type: string; values?: readonly string[] };

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  element?: z.ZodType;
  entries?: Record<string, string>;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Looks through optional/default/prefault/pipe wrappers to the structural node. */
export function describeNode(schema: z.ZodType): SchemaNode {
  let def = defOf(schema);
  for (;;) {
    if (
      def.innerType &&
      ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type)
    ) {
      def = defOf(def.innerType);
    } else if (def.type === 'pipe' && def.in) {
      // A pipe into an enum (a case-folded string) is that enum; any other pipe is what it reads.
      const out = def.out && defOf(def.out);
      def = out?.type === 'enum' ? out : defOf(def.in);
    } else {
      break;
    }
  }
  if (def.type === 'object' && def.shape) return { kind: 'object', shape: def.shape };
  if (def.type === 'record' && def.valueType) return { kind: 'record', value: def.valueType };
  if (def.type === 'array' && def.element) return { kind: 'array', element: def.element };
  if (def.type === 'enum' && def.entries)
    return { kind: 'leaf', type: 'enum', values: Object.values(def.entries) };
  return { kind: 'leaf', type: def.type };
}
