// Example plugin, asynchronous: a maintenance switch operated with a file. While the
// flag file exists, the route answers 503 with Retry-After and a JSON body, without
// calling the upstream; clients that send the bypass header (operators checking the
// service) still pass. `touch /etc/gatehouse/maintenance` starts it, `rm` ends it:
// no reload needed. The policy returns a promise (an fs.access per request), so the
// runner continues the chain asynchronously after it.
//
//   plugins:
//     maintenance:
//       module: ./plugins/maintenance.ts
//       options: { flag_file: /etc/gatehouse/maintenance, retry_after: 120 }
import { access } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { PluginFactory, Policy } from 'gatehouse/plugin';
import { z } from 'zod';

export const apiVersion = 1;

export const optionsSchema = z.strictObject({
  flag_file: z.string().min(1),
  retry_after: z.number().int().positive().default(60),
  bypass_header: z.string().default('x-maintenance-bypass'),
});

type Options = z.output<typeof optionsSchema>;

const create: PluginFactory<Options> = (options, context): Policy => {
  const flag = isAbsolute(options.flag_file)
    ? options.flag_file
    : resolve(context.configDir, options.flag_file);
  const bypass = options.bypass_header.toLowerCase();
  const body = JSON.stringify({ error: { code: 'MAINTENANCE', message: 'Down for maintenance' } });
  const headers = { 'content-type': 'application/json', 'retry-after': String(options.retry_after) };
  return async (request) => {
    if (request.headers[bypass] !== undefined) return undefined;
    try {
      await access(flag);
    } catch {
      return undefined; // no flag file: serving normally
    }
    request.log.info({ plugin: context.name }, 'answered by the maintenance switch');
    return { status: 503, headers, body };
  };
};

export default create;
