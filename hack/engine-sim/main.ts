#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { buildOptions, parseCliArgs, usageText } from './cli-args';
import { startEngineSim, type SimOptions } from './simulator';

/**
 * CLI of the engine simulator (bin: sluice-engine-sim). Starts the pods, then
 * prints exactly one line `engine-sim ready <json array of pods>` on stdout so
 * a parent process can wait for it; logs go to stderr. SIGTERM/SIGINT close
 * every listener and exit 0; a second signal exits 1 at once.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const args = parseCliArgs(argv);
  if (args.help) {
    process.stdout.write(`${usageText()}\n`);
    return;
  }
  const config = args.configPath ? (JSON.parse(readFileSync(args.configPath, 'utf8')) as Partial<SimOptions>) : {};
  const sim = await startEngineSim(buildOptions(args, config, process.env));
  process.stdout.write(`engine-sim ready ${JSON.stringify(sim.pods.map((p) => p.info()))}\n`);

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    process.stderr.write(`engine-sim: ${signal}, closing ${sim.pods.length} pod(s)\n`);
    sim.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`engine-sim: close failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`engine-sim: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
