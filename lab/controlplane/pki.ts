// The control plane's certificates, made with openssl as envtest makes its own: a CA, the API
// server's serving certificate, the service-account signing key, and an admin client certificate
// in group system:masters. Private keys are written 0600 in the state folder, nowhere else.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  adminCert: string;
  adminKey: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await exec('openssl', args, { cwd });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (error as Error).message}. Is openssl installed (apt-get install openssl)?`);
  }
}

async function newKey(file: string, cwd: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], cwd);
  await chmod(path.join(cwd, file), 0o600);
}

async function signedCert(name: string, subject: string, extensions: string, dir: string): Promise<void> {
  await newKey(`${name}.key`, dir);
  await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  await writeFile(path.join(dir, `${name}.ext`), extensions);
  await openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '365', '-extfile', `${name}.ext`, '-out', `${name}.crt`],
    dir,
  );
}

/** Creates the PKI in `dir` unless it is there already; `addresses` go into the serving cert. */
export async function ensurePki(dir: string, addresses: string[]): Promise<Pki> {
  const pki: Pki = {
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    servingCert: path.join(dir, 'apiserver.crt'),
    servingKey: path.join(dir, 'apiserver.key'),
    serviceAccountKey: path.join(dir, 'sa.key'),
    serviceAccountPub: path.join(dir, 'sa.pub'),
    adminCert: path.join(dir, 'admin.crt'),
    adminKey: path.join(dir, 'admin.key'),
  };
  const servingFor = async () => {
    const sans = [
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
      ...[...new Set(['127.0.0.1', '10.96.0.1', ...addresses])].map((ip) => `IP:${ip}`),
    ];
    await signedCert('apiserver', '/CN=kube-apiserver', `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(',')}\n`, dir);
  };
  if (Object.values(pki).every((file) => existsSync(file))) {
    // Kept from an earlier start; a new address (the lab with another topology) needs a new serving
    // certificate, signed by the same CA, so that kubeconfigs made earlier stay valid.
    const { stdout } = await exec('openssl', ['x509', '-in', pki.servingCert, '-noout', '-ext', 'subjectAltName']);
    if (addresses.some((address) => !new RegExp(`IP Address:${address.replace(/\./g, '\\.')}(,|\\s|$)`).test(stdout))) await servingFor();
    return pki;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await newKey('ca.key', dir);
  await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=gingham-controlplane-ca', '-days', '3650', '-out', 'ca.crt'], dir);
  await servingFor();
  await signedCert('admin', '/O=system:masters/CN=gingham-admin', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n', dir);
  await newKey('sa.key', dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return pki;
}
