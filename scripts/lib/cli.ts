// The command line of every script: `--help` prints the options, their defaults and a typical run
// time (exit 0); an unknown or malformed option names itself and prints the help (exit 2); a fatal
// error is one short sentence on stderr. Exported for every script under scripts/ to adopt.
import { parseArgs } from 'node:util';
import { describeFailure } from '../../shared/failure.js';

export type CliOption = {
  type: 'string' | 'boolean';
  /** Shown in the help; also the parsed value when the option is absent. */
  default?: string;
  /** Placeholder of the value in the help, e.g. `N`. */
  value?: string;
  description: string;
};

export type CliSpec<O extends Record<string, CliOption>> = {
  /** How it is run, e.g. `npm run seed --`. */
  command: string;
  summary: string;
  /** A typical run time, e.g. `about 5 s`. */
  runTime: string;
  options: O;
  /** e.g. `onsale`: the positionals the script takes; none when unset. */
  positionals?: string;
  /** Extra lines at the end of the help (environment, examples). */
  notes?: string[];
};

export type CliValues<O extends Record<string, CliOption>> = {
  [K in keyof O]: O[K]['type'] extends 'boolean'
    ? boolean
    : O[K]['default'] extends string
      ? string
      : string | undefined;
};

/** The help text of a spec. */
export function formatHelp<O extends Record<string, CliOption>>(spec: CliSpec<O>): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const def = o.default !== undefined && o.default !== '' ? ` (default: ${o.default})` : '';
    return [flag, `${o.description}${def}`] as const;
  });
  rows.push(['--help', 'print this help and exit']);
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `usage: ${spec.command}${spec.positionals ? ` ${spec.positionals}` : ''} [options]`,
    '',
    spec.summary,
    `Typical run time: ${spec.runTime}.`,
    '',
    'options:',
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
    ...(spec.notes?.length ? ['', ...spec.notes] : []),
    '',
  ].join('\n');
}

/** Exits 2 after naming the problem and printing the help. */
export function usageError<O extends Record<string, CliOption>>(spec: CliSpec<O>, message: string): never {
  process.stderr.write(`${spec.command}: ${message}\n\n${formatHelp(spec)}`);
  process.exit(2);
}

/** Parses argv against the spec; handles --help and bad options (see the file comment). */
export function parseCli<const O extends Record<string, CliOption>>(
  spec: CliSpec<O>,
  argv: string[] = process.argv.slice(2),
): { values: CliValues<O>; positionals: string[] } {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(formatHelp(spec));
    process.exit(0);
  }
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [
      name,
      o.type === 'boolean' ? { type: 'boolean' as const } : { type: 'string' as const, default: o.default },
    ]),
  );
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: !!spec.positionals, strict: true });
    const values = { ...parsed.values } as Record<string, string | boolean | undefined>;
    for (const [name, o] of Object.entries(spec.options)) if (o.type === 'boolean') values[name] ??= false;
    // The shape is the one built from the spec just above.
    return { values: values as CliValues<O>, positionals: parsed.positionals };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw err;
    const unknown = /Unknown option '([^']+)'/.exec((err as Error).message)?.[1];
    const positional = /Unexpected argument '([^']+)'/.exec((err as Error).message)?.[1];
    usageError(
      spec,
      unknown
        ? `unknown option ${unknown}`
        : positional
          ? `unexpected argument ${positional}`
          : (err as Error).message.split('\n')[0]!,
    );
  }
}

/**
 * Runs a script's body: a failure is one short sentence on stderr, exit 1 (the stack only with
 * LOG_LEVEL=debug or trace).
 */
export async function runCli(name: string, main: () => Promise<void | number>): Promise<void> {
  try {
    const code = await main();
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    process.stderr.write(`${name}: ${describeFailure(err)}\n`);
    if (/^(debug|trace)$/.test(process.env['LOG_LEVEL'] ?? '')) console.error(err);
    process.exit(1);
  }
}
