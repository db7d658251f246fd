/**
 * Jest globalSetup: before any test file runs, says once which test groups will be skipped on
 * this machine and the command that enables each (see requirements.ts). With
 * SLUICE_REQUIRE_ALL_TESTS=1 it fails the run at once instead of letting every file fail, unless
 * the only tools missing are optional in CI (OPTIONAL_IN_CI).
 */
import { ENABLE, OPTIONAL_IN_CI, REQUIRE_ALL_ENV, checkTool, skipLine, type Tool } from './requirements';

export default function globalSetup(): void {
  const missing = (Object.keys(ENABLE) as Tool[]).map((t) => checkTool(t)).filter((c) => !c.available);
  if (!missing.length) return;
  const required = missing.filter((c) => !OPTIONAL_IN_CI.has(c.tool));
  if (process.env[REQUIRE_ALL_ENV] === '1' && required.length) {
    throw new Error(`${REQUIRE_ALL_ENV}=1 but tools are missing:\n${required.map((c) => `  ${c.reason}: ${ENABLE[c.tool].command}`).join('\n')}`);
  }
  process.stderr.write(`\n${missing.map((c) => `sluice: ${skipLine(c)}`).join('\n')}\n`);
}
