/**
 * Jest globalSetup: before any test file runs, says once which test groups will be skipped on
 * this machine and the command that enables each (see requirements.ts). With
 * SLUICE_REQUIRE_ALL_TESTS=1 it fails the run at once instead of letting every file fail.
 */
import { ENABLE, REQUIRE_ALL_ENV, checkTool, skipLine, type Tool } from './requirements';

export default function globalSetup(): void {
  const missing = (Object.keys(ENABLE) as Tool[]).map((t) => checkTool(t)).filter((c) => !c.available);
  if (!missing.length) return;
  if (process.env[REQUIRE_ALL_ENV] === '1') {
    throw new Error(`${REQUIRE_ALL_ENV}=1 but tools are missing:\n${missing.map((c) => `  ${c.reason}: ${ENABLE[c.tool].command}`).join('\n')}`);
  }
  process.stderr.write(`\n${missing.map((c) => `sluice: ${skipLine(c)}`).join('\n')}\n`);
}
