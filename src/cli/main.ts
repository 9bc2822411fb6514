#!/usr/bin/env node
// `pipet` — run Pipet and administer it: start | web | worker | migrate | admin <command>; and a
// stream's data in and out: push | tail | state | export | import (data.ts, over the public API).
// With no DATABASE_URL / REDIS_URL, every command uses the embedded defaults in the data folder.
import { parseArgs } from 'node:util';
import { withServices } from './services.ts';
import { runStart } from './start.ts';
import { runWeb } from './web.ts';
import { runWorker } from './worker.ts';
import { runServices } from './keeper.ts';
import { runAdmin } from './admin.ts';
import { isDataCommand, runData } from './data.ts';
import { applyMigrations, createMigration } from '../lib/server/db/migrate.ts';

const USAGE = `Usage: pipet <command>

  start                 web server and worker in one process tree (embedded defaults if unconfigured)
  web                   the web server alone (production); WEB_PROCESSES processes, SIGHUP restarts them
  worker                the worker alone (production)
  services [--quiet]    only the embedded PostgreSQL and Redis, for running web and worker separately
  migrate [--create N]  apply migrations (or, in development, write a new one named N)
  admin create-user --email E --password P [--team SLUG] [--json]
  admin create-key --team SLUG --scopes ingest,read,manage [--stream S] [--name N] [--json]
  admin set-limits --team SLUG [--rate-limit N|default] [--max-streams N|default] [--email-quota N|default] [--keys-per-reducer N|default] [--json]

  push STREAM [JSON]                 append one event (JSON from stdin when left out)
  tail STREAM [--from I]             print events as they arrive, one JSON line each
  state STREAM REDUCER [KEY] [--after I]   print a reducer's state
  export STREAM [--start I] [--end J] > events.ndjson   the events as NDJSON, resumable
  import STREAM < events.ndjson      append an export's events, batched, idempotent, with progress
  (these use PIPET_URL and PIPET_KEY or ~/.config/pipet/profile.json; \`pipet <command> --help\`)
`;

const [command, ...rest] = process.argv.slice(2);

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

try {
  switch (command) {
    case 'start':
      await runStart();
      break;
    case 'web':
      await runWeb();
      break;
    case 'worker':
      await runWorker();
      break;
    case 'services': {
      const { values } = parseArgs({ args: rest, options: { quiet: { type: 'boolean' }, 'no-record': { type: 'boolean' } } });
      await runServices({ quiet: values.quiet, record: !values['no-record'] });
      break;
    }
    case 'migrate': {
      const { values } = parseArgs({ args: rest, options: { create: { type: 'string' } } });
      await withServices({ quiet: true }, async ({ databaseUrl }) => {
        if (values.create) {
          const name = await createMigration(databaseUrl, values.create);
          console.log(name ? `Wrote prisma/migrations/${name}/migration.sql` : 'The schema and the migrations agree; nothing to write.');
        } else {
          const applied = await applyMigrations(databaseUrl);
          console.log(applied.length ? `Applied ${applied.join(', ')}` : 'The database is up to date.');
        }
      });
      process.exit(0);
      break;
    }
    case 'admin':
      await runAdmin(rest);
      process.exit(0);
      break;
    case 'push':
    case 'tail':
    case 'state':
    case 'export':
    case 'import':
      if (isDataCommand(command)) await runData(command, rest);
      break;
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      break;
    default:
      fail(`Unknown command \`${command}\`.\n\n${USAGE}`);
  }
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
