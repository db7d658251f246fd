/**
 * Throwaway TLS certificates for tests, made by the real `openssl` CLI (hack/test-certs.ts) in a
 * temporary folder. Gate the group on openssl, so a machine without it skips with a one-line hint:
 *
 *   const { describe, it, beforeAll, afterAll } = testsNeeding('openssl');
 *   const self = await createTestCert({ ips: ['127.74.0.2'] });             // self-signed
 *   const signed = await createTestCert({ ca: true, ips: ['127.74.0.3'] });  // a CA and a leaf it signed
 *   // server: { sslKeyfile: self.keyFile, sslCertfile: self.certFile }
 *   // client: new Agent({ connect: { ca: self.caPem } }) (undici), or tls/https `ca`
 *   self.cleanup();
 */
import { readFileSync } from 'node:fs';
import { writeTestCerts, type TestCertOptions } from '../../hack/test-certs';
import { tempDir } from './processes';

export type { TestCertOptions } from '../../hack/test-certs';

/** A certificate and key on disk and as PEM text. */
export interface TestCert {
  /** The temporary folder holding the files. */
  dir: string;
  /** The leaf's private key: a server's `--ssl-keyfile`. */
  keyFile: string;
  /** The leaf certificate: a server's `--ssl-certfile`. */
  certFile: string;
  /** What a client trusts: the CA's certificate, or the leaf itself when self-signed. */
  caFile: string;
  keyPem: string;
  certPem: string;
  /** PEM to pass as a client's `ca`. */
  caPem: string;
  /** True when the leaf is its own issuer (no `ca` option). */
  selfSigned: boolean;
  /** Removes the folder. */
  cleanup(): void;
}

/**
 * Makes a certificate for 127.0.0.1 and localhost (plus `opts.ips`/`opts.dnsNames`), self-signed,
 * or with `ca: true` signed by a fresh CA. Needs openssl on PATH: gate with testsNeeding('openssl').
 */
export async function createTestCert(opts: TestCertOptions = {}): Promise<TestCert> {
  const tmp = tempDir('tls');
  try {
    const files = await writeTestCerts(tmp.dir, opts);
    const read = (f: string): string => readFileSync(f, 'utf8');
    return {
      dir: tmp.dir, keyFile: files.keyFile, certFile: files.certFile, caFile: files.caFile,
      keyPem: read(files.keyFile), certPem: read(files.certFile), caPem: read(files.caFile),
      selfSigned: !opts.ca, cleanup: tmp.cleanup,
    };
  } catch (e) {
    tmp.cleanup();
    throw e;
  }
}
