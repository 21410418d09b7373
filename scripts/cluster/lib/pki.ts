/**
 * The cluster's certificates, made once per state directory with openssl: a CA; the apiserver's serving
 * certificate; client certificates for the admin (kubectl, helm, the tests) and for the apiserver calling the node
 * agent; the node agent's serving certificate; the service-account signing key pair; and a kubeconfig.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_DOMAIN, HOST_PORTS, NODE_IP, NODE_NAME, PORTS, type Paths } from './layout.ts';

export interface Pki {
  dir: string;
  ca: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  adminCert: string;
  adminKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  agentCert: string;
  agentKey: string;
  saKey: string;
  saPub: string;
}

const openssl = (dir: string, args: string[]): void => {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? err);
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim()} (is openssl installed?)`);
  }
};

function issue(dir: string, name: string, subject: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), `[ext]\n${ext}\n`);
  openssl(dir, ['genrsa', '-out', `${name}.key`, '2048']);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '825',
    '-extfile', `${name}.ext`, '-extensions', 'ext', '-out', `${name}.crt`]);
}

export function ensurePki(p: Paths): Pki {
  const dir = p.pki;
  const f = (name: string): string => join(dir, name);
  const pki: Pki = {
    dir,
    ca: f('ca.crt'),
    caKey: f('ca.key'),
    apiserverCert: f('apiserver.crt'),
    apiserverKey: f('apiserver.key'),
    adminCert: f('admin.crt'),
    adminKey: f('admin.key'),
    kubeletClientCert: f('kubelet-client.crt'),
    kubeletClientKey: f('kubelet-client.key'),
    agentCert: f('agent.crt'),
    agentKey: f('agent.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
  };
  if (!existsSync(pki.agentCert)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    openssl(dir, ['genrsa', '-out', 'ca.key', '2048']);
    openssl(dir, ['req', '-x509', '-new', '-key', 'ca.key', '-days', '825', '-subj', '/CN=knative-fn-local-ca', '-out', 'ca.crt']);
    const svc = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${CLUSTER_DOMAIN}`];
    issue(dir, 'apiserver', '/CN=kube-apiserver',
      `subjectAltName=${[...svc.map((d) => `DNS:${d}`), 'DNS:localhost', 'IP:127.0.0.1', 'IP:10.96.0.1', `IP:${NODE_IP}`].join(',')}\nextendedKeyUsage=serverAuth`);
    issue(dir, 'admin', '/O=system:masters/CN=knative-fn-admin', 'extendedKeyUsage=clientAuth');
    issue(dir, 'kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'extendedKeyUsage=clientAuth');
    issue(dir, 'agent', `/O=system:nodes/CN=system:node:${NODE_NAME}`, `subjectAltName=DNS:${NODE_NAME},IP:${NODE_IP}\nextendedKeyUsage=serverAuth,clientAuth`);
    openssl(dir, ['genrsa', '-out', 'sa.key', '2048']);
    openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  }
  writeFileSync(p.nodeKubeconfig, kubeconfig(pki));
  return pki;
}

/** The host's kubeconfig: written once the apiserver's loopback forward listens, removed at teardown. */
export function writeHostKubeconfig(p: Paths, pki: Pki): void {
  writeFileSync(p.kubeconfig, kubeconfig(pki, `https://127.0.0.1:${HOST_PORTS.apiserver}`));
}

export function kubeconfig(pki: Pki, server = `https://${NODE_IP}:${PORTS.apiserver}`): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: knative-fn-local
    cluster:
      server: ${server}
      certificate-authority: ${pki.ca}
users:
  - name: admin
    user:
      client-certificate: ${pki.adminCert}
      client-key: ${pki.adminKey}
contexts:
  - name: knative-fn-local
    context:
      cluster: knative-fn-local
      user: admin
current-context: knative-fn-local
`;
}
