/**
 * Throwaway TLS certificates made with the real `openssl` CLI, for servers that tests and
 * benchmarks start on loopback (the engine simulator's HTTPS pods, the kube-apiserver harness).
 * EC P-256 keys, valid for two days, names in subjectAltName (what clients check; the CN is only
 * a label). Two shapes:
 * - self-signed: one certificate that is its own issuer; a client trusts it by taking it as its CA;
 * - `ca: true`: a small CA (`ca.crt`, `ca.key`) and a leaf signed by it, so a test can tell
 *   "an unknown self-signed certificate fails" from "a certificate from a trusted CA works".
 * Files: `server.key` and `server.crt` (the leaf), plus `ca.crt`/`ca.key` with a CA.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What to put in the certificate. */
export interface TestCertOptions {
  /** Sign the leaf with a fresh CA instead of making it self-signed (default false). */
  ca?: boolean;
  /** IP addresses in subjectAltName, added to 127.0.0.1. */
  ips?: readonly string[];
  /** DNS names in subjectAltName, added to localhost. */
  dnsNames?: readonly string[];
  /** The leaf's common name (default sluice-test). */
  commonName?: string;
}

/** Paths of the files written. */
export interface TestCertFiles {
  /** The leaf's private key (PEM). */
  keyFile: string;
  /** The leaf certificate (PEM). */
  certFile: string;
  /** What a client trusts: the CA certificate, or the leaf itself when self-signed. */
  caFile: string;
  /** The CA's private key, with `ca: true`. */
  caKeyFile?: string;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = ['-days', '2'];

/** Runs `openssl args...` in `cwd`; rejects with its stderr. */
export function runOpenssl(args: string[], cwd: string): Promise<void> {
  return new Promise((res, rej) => {
    execFile('openssl', args, { cwd }, (err, _stdout, stderr) => (err ? rej(new Error(`openssl ${args.join(' ')}: ${err.message}\n${stderr}`)) : res()));
  });
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Writes a certificate and key (and a CA with `ca: true`) into `dir`, which must exist. */
export async function writeTestCerts(dir: string, opts: TestCertOptions = {}): Promise<TestCertFiles> {
  const san = [
    ...unique(['127.0.0.1', ...(opts.ips ?? [])]).map((ip) => `IP:${ip}`),
    ...unique(['localhost', ...(opts.dnsNames ?? [])]).map((d) => `DNS:${d}`),
  ].join(', ');
  const leafExt = [
    'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth', 'subjectKeyIdentifier = hash', `subjectAltName = ${san}`,
  ];
  const files: TestCertFiles = { keyFile: join(dir, 'server.key'), certFile: join(dir, 'server.crt'), caFile: join(dir, 'server.crt') };
  const leafConf = (ext: string[]): void => {
    writeFileSync(join(dir, 'server.cnf'), ['[req]', 'distinguished_name = dn', 'prompt = no',
      '[dn]', `CN = ${opts.commonName ?? 'sluice-test'}`, '[ext]', ...ext, ''].join('\n'));
  };
  if (!opts.ca) {
    leafConf(leafExt);
    await runOpenssl(['req', '-x509', ...EC_KEY, ...DAYS, '-config', 'server.cnf', '-extensions', 'ext', '-keyout', 'server.key', '-out', 'server.crt'], dir);
    return files;
  }
  writeFileSync(join(dir, 'ca.cnf'), [
    '[req]', 'distinguished_name = dn', 'prompt = no', 'x509_extensions = ext',
    '[dn]', 'CN = sluice-test-ca',
    '[ext]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
    'subjectKeyIdentifier = hash', '',
  ].join('\n'));
  await runOpenssl(['req', '-x509', ...EC_KEY, ...DAYS, '-config', 'ca.cnf', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
  leafConf([...leafExt, 'authorityKeyIdentifier = keyid']);
  await runOpenssl(['req', '-new', ...EC_KEY, '-config', 'server.cnf', '-keyout', 'server.key', '-out', 'server.csr'], dir);
  await runOpenssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', ...DAYS,
    '-extfile', 'server.cnf', '-extensions', 'ext', '-out', 'server.crt'], dir);
  return { ...files, caFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'ca.key') };
}
