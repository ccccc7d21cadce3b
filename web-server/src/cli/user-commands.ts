/**
 * `caisson user …`: user administration from the command line. The caller (cli.ts) opens the
 * database, builds the AuthService and passes the arguments after the program name (a leading
 * `user` is optional). Exit codes: 0 done, 1 the operation failed, 2 bad arguments.
 */
import { isCaissonError } from '../../../common/errors.js';
import type { AuthService } from '../auth/auth-service.js';
import { generatePassword } from '../auth/passwords.js';

export const USER_USAGE = [
  'Usage:',
  '  caisson user add <name> [--admin] [--password <pw> | --password-stdin] [--email <e>] [--group <g>]...',
  '  caisson user reset-password <name> [--password <pw> | --password-stdin]',
  '  caisson user disable <name>',
  '  caisson user enable <name>',
  '  caisson user list',
  'Without a password option a random password is generated and printed once.',
].join('\n');

export interface UserCommandIo {
  /** Reads standard input to its end (for --password-stdin). */
  readStdin?: () => Promise<string>;
}

class UsageError extends Error {}

interface ParsedArgs {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string[]>;
}

const FLAGS = new Set(['--admin', '--password-stdin']);
const VALUED = new Set(['--password', '--email', '--group']);

function parseArgs(args: readonly string[], allowedFlags: readonly string[], allowedValued: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--')) {
      parsed.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (FLAGS.has(name) && allowedFlags.includes(name)) {
      if (eq !== -1) throw new UsageError(`option ${name} takes no value`);
      parsed.flags.add(name);
    } else if (VALUED.has(name) && allowedValued.includes(name)) {
      let value: string | undefined;
      if (eq !== -1) value = arg.slice(eq + 1);
      else value = args[++i];
      if (value === undefined) throw new UsageError(`option ${name} needs a value`);
      parsed.values.set(name, [...(parsed.values.get(name) ?? []), value]);
    } else {
      throw new UsageError(`unknown option ${name}`);
    }
  }
  for (const [name, list] of parsed.values) {
    if (name !== '--group' && list.length > 1) throw new UsageError(`option ${name} given more than once`);
  }
  return parsed;
}

function onlyName(p: ParsedArgs, command: string): string {
  const [name, ...extra] = p.positional;
  if (name === undefined) throw new UsageError(`user ${command} needs a user name`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  return name;
}

async function defaultReadStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** The password from --password or --password-stdin (first line), or undefined when neither was given. */
async function passwordOption(p: ParsedArgs, io: UserCommandIo): Promise<string | undefined> {
  const given = p.values.get('--password')?.[0];
  if (given !== undefined && p.flags.has('--password-stdin')) throw new UsageError('use either --password or --password-stdin, not both');
  if (given !== undefined) return given;
  if (!p.flags.has('--password-stdin')) return undefined;
  const text = await (io.readStdin ?? defaultReadStdin)();
  return text.split(/\r?\n/)[0] ?? '';
}

function pad(cells: string[][]): string[] {
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length))) ?? [];
  return cells.map((row) =>
    row
      .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export async function runUserCommand(
  args: readonly string[],
  auth: AuthService,
  out: (line: string) => void,
  io: UserCommandIo = {},
): Promise<number> {
  const rest = args[0] === 'user' ? args.slice(1) : args;
  const [command, ...params] = rest;
  try {
    switch (command) {
      case 'add': {
        const p = parseArgs(params, ['--admin', '--password-stdin'], ['--password', '--email', '--group']);
        const username = onlyName(p, 'add');
        const given = await passwordOption(p, io);
        const password = given ?? generatePassword();
        const role = p.flags.has('--admin') ? 'ADMIN' : 'USER';
        const user = await auth.createUser({
          username,
          password,
          role,
          email: p.values.get('--email')?.[0] ?? null,
          groups: p.values.get('--group') ?? [],
        });
        const groups = user.groups.length > 0 ? `, groups ${user.groups.join(', ')}` : '';
        out(`Created user "${user.username}" (${user.role}${groups}).`);
        if (given === undefined) out(`Password: ${password}`);
        return 0;
      }
      case 'reset-password': {
        const p = parseArgs(params, ['--password-stdin'], ['--password']);
        const username = onlyName(p, 'reset-password');
        const given = await passwordOption(p, io);
        const password = given ?? generatePassword();
        await auth.setPassword(username, password);
        out(`Password of user "${username}" changed; its sessions have ended.`);
        if (given === undefined) out(`Password: ${password}`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        const username = onlyName(parseArgs(params, [], []), command);
        await auth.setDisabled(username, command === 'disable');
        out(`User "${username}" ${command}d.`);
        return 0;
      }
      case 'list': {
        const p = parseArgs(params, [], []);
        if (p.positional.length > 0) throw new UsageError(`unexpected argument "${p.positional[0]}"`);
        const list = await auth.listUsers();
        const rows = list.map((u) => [u.username, u.role, u.disabled ? 'disabled' : 'enabled', u.groups.join(',') || '-', u.email ?? '-']);
        for (const line of pad([['USERNAME', 'ROLE', 'STATUS', 'GROUPS', 'EMAIL'], ...rows])) out(line);
        return 0;
      }
      default:
        throw new UsageError(command === undefined ? 'missing user command' : `unknown user command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      out(`error: ${e.message}`);
      out(USER_USAGE);
      return 2;
    }
    if (isCaissonError(e)) {
      out(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
