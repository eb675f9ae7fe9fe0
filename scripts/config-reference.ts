// Renders the configuration reference (Markdown) from the schema.
import type { z } from 'zod';
import { configSchema } from '../src/config/schema.ts';
import { describeNode } from '../src/config/schema-walk.ts';

interface Row {
  key: string;
  env: string;
  type: string;
  defaultValue: string;
  description: string;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  defaultValue?: unknown;
}

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The first description and default met while unwrapping the schema's wrappers. */
function annotations(schema: z.ZodType): { description?: string; defaultValue?: unknown; optional: boolean } {
  let current: z.ZodType | undefined = schema;
  let description: string | undefined;
  let defaultValue: unknown;
  let optional = false;
  while (current) {
    description ??= current.description;
    const def = defOf(current);
    if ((def.type === 'default' || def.type === 'prefault') && defaultValue === undefined)
      defaultValue = def.defaultValue;
    if (def.type === 'optional') optional = true;
    current = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  }
  return { description, defaultValue, optional };
}

function typeName(schema: z.ZodType): string {
  const node = describeNode(schema);
  if (node.kind === 'leaf') {
    if (node.type === 'enum') return node.values!.map((v) => `\`${v}\``).join(' \\| ');
    const pattern = JSON.stringify(schema.toJSONSchema?.({ io: 'input' }) ?? {});
    if (pattern.includes('(ms|s|m|h)')) return 'duration';
    if (pattern.includes('[kKmMgG]')) return 'size';
    return node.type;
  }
  if (node.kind === 'array') {
    const element = describeNode(node.element);
    return element.kind === 'object' ? 'list of objects' : `list of ${typeName(node.element)}`;
  }
  return node.kind === 'record' ? 'map' : 'object';
}

function walk(schema: z.ZodType, key: string, env: string, rows: Row[]): void {
  const node = describeNode(schema);
  const { description, defaultValue, optional } = annotations(schema);
  if (key !== '') {
    const shownDefault =
      defaultValue === undefined
        ? optional
          ? '(none)'
          : ''
        : typeof defaultValue === 'object'
          ? Array.isArray(defaultValue)
            ? JSON.stringify(defaultValue)
            : ''
          : String(defaultValue);
    rows.push({
      key,
      env,
      type: typeName(schema),
      defaultValue: shownDefault,
      description: description ?? '',
    });
  }
  const join = (a: string, b: string) => (a === '' ? b : `${a}_${b}`);
  if (node.kind === 'object') {
    for (const [child, childSchema] of Object.entries(node.shape)) {
      walk(
        childSchema,
        key === '' ? child : `${key}.${child}`,
        join(env, child.toUpperCase().replace(/-/g, '_')),
        rows,
      );
    }
  } else if (node.kind === 'record') {
    walk(node.value, `${key}.<name>`, join(env, '<NAME>'), rows);
  } else if (node.kind === 'array' && describeNode(node.element).kind === 'object') {
    walk(node.element, `${key}[i]`, join(env, '<I>'), rows);
  }
}

export function renderConfigReference(): string {
  const rows: Row[] = [];
  walk(configSchema, '', '', rows);
  const escapePipes = (text: string) => text.replace(/\|/g, '\\|');
  const table = rows
    .filter((row) => !row.key.endsWith('[i]') && !row.key.endsWith('.<name>'))
    .map(
      (row) =>
        `| \`${row.key}\` | \`${row.env}\` | ${row.type} | ${row.defaultValue === '' ? '' : `\`${escapePipes(row.defaultValue)}\``} | ${escapePipes(row.description)} |`,
    )
    .join('\n');
  return `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`. Do not edit by hand. -->

Gatehouse reads one YAML file: \`--config FILE\`, else \`$GATEHOUSE_CONFIG\`, else \`./gateway.yaml\`.
\`npx gatehouse validate --config FILE\` checks it and prints every problem with its line;
\`npx gatehouse schema\` prints the JSON Schema (point your editor's YAML plugin at it for completion).

- Unknown keys are errors. A bad file never starts a half-configured gateway, and a bad
  reload leaves the running configuration in place.
- Durations are strings with a unit: \`250ms\`, \`30s\`, \`5m\`, \`1h\`. Sizes: \`512b\`, \`64kb\`,
  \`10mb\`, \`1gb\` (1kb = 1024 bytes). A bare number is refused: it would be ambiguous.
- Every key can be set from the environment: its path upper-cased, dots and dashes turned
  to underscores. \`<NAME>\` is a service's name (\`SERVICES_USER_API_URL\` sets
  \`services.user-api.url\`), \`<I>\` a route's index (\`ROUTES_0_PATH\`). Lists take
  comma-separated values (\`CORS_ALLOWED_ORIGINS=https://a.example,https://b.example\`) or a
  YAML flow list; a whole section takes a YAML flow mapping. The environment wins over the
  file. A variable that starts like a section (\`SERVER_…\`) but names no key is logged as
  ignored, so typos show.
- Sections \`auth\`, \`rate_limit\`, \`cors\` and a service's \`health_check\` are off when absent.
- Static keys (\`server.host\`, \`server.port\`, the server timeouts and limits, \`admin\`, \`log\`)
  need a restart; a reload that changes them says so in its log line and admin answer.

| key | environment variable | type | default | description |
| --- | --- | --- | --- | --- |
${table}
`;
}
