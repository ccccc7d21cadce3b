/**
 * `npm run caisson -- <command>`: operator commands against the configured database.
 *   migrate                  apply pending migrations
 *   user add|reset-password|disable|enable|list …   manage users (see `user --help`)
 */
import { systemClock } from '../../common/clock.js';
import { openDatabase } from '../../common/db/knex.js';
import { isCaissonError } from '../../common/errors.js';
import { migrateToLatest } from '../../migrations/index.js';
import { AuthService } from './auth/auth-service.js';
import { runUserCommand } from './cli/user-commands.js';
import { readServerConfig } from './config.js';

const USAGE = `usage: npm run caisson -- <command>
  migrate                         apply pending database migrations
  user add <name> [--admin] [--password <pw> | --password-stdin] [--email <e>] [--group <g>]…
  user reset-password <name> [--password <pw> | --password-stdin]
  user disable <name> | user enable <name> | user list
Settings come from --config <file>, CAISSON_CONFIG and CAISSON_* variables (docs/configuration.md).`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const i = args.indexOf('--config');
  const configArgs = i >= 0 ? args.splice(i, 2) : [];
  const [command, ...rest] = args;
  if (!command || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const config = readServerConfig(configArgs, process.env);
  const db = openDatabase(config.databaseUrl);
  try {
    if (command === 'migrate') {
      const applied = await migrateToLatest(db);
      console.log(applied.length === 0 ? 'The database schema is up to date.' : `Applied: ${applied.join(', ')}`);
      return 0;
    }
    if (command === 'user') {
      await migrateToLatest(db);
      const auth = new AuthService({
        db,
        clock: systemClock,
        sessionTtlMs: config.sessionTtl,
        passwordHashCost: config.passwordHashCost,
        loginMaxFailures: config.loginMaxFailures,
        loginFailureWindowMs: config.loginFailureWindow,
      });
      return await runUserCommand(rest, auth, (line) => console.log(line), { readStdin });
    }
    console.error(`unknown command "${command}"\n${USAGE}`);
    return 2;
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(isCaissonError(e) ? e.message : e);
    process.exit(1);
  },
);
