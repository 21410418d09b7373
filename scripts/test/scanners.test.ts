/**
 * Scanners that no other suite runs: checkov's Dockerfile policies, `npm audit` of the production dependencies, and
 * a secret scan of the whole git history. (checkov on the chart and the platform, hadolint, shellcheck and actionlint
 * run in chart/test, platform/test, function/test/dockerfile.test.ts and scripts/test/deploy-lint.test.ts.)
 * Every suppression below carries its reason next to it.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../dev/lib/stack.ts';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { cwd: REPO_ROOT, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

// ---- checkov: Dockerfile ------------------------------------------------------------------------------------------

/** checkov Dockerfile checks skipped, each with its reason. */
const DOCKERFILE_SKIPS: Record<string, string> = {
  // Kubernetes ignores an image's HEALTHCHECK; liveness and readiness are the chart's probes (GET /healthz, /readyz,
  // queue-proxy probing /readyz), and the distroless runtime has no shell or curl a HEALTHCHECK could run.
  CKV_DOCKER_2: 'HEALTHCHECK: Kubernetes uses the chart probes instead',
};

t.test('checkov: the Dockerfile passes every Dockerfile policy (skips listed with reasons)', async (t) => {
  const checkov = join(REPO_ROOT, 'bin/checkov');
  if (!existsSync(checkov)) return t.fail('bin/checkov is missing: run make tools');
  const r = run(
    checkov,
    ['--file', 'Dockerfile', '--framework', 'dockerfile', '--skip-download', '--output', 'json', '--skip-check', Object.keys(DOCKERFILE_SKIPS).join(',')],
    { ...process.env, CKV_SKIP_PACKAGE_UPDATE_CHECK: 'true', BC_SKIP_MAPPING: 'TRUE', LOG_LEVEL: 'WARNING' },
  );
  type Check = { check_id: string; check_name: string };
  let report: { summary: { passed: number; failed: number }; results: { failed_checks: Check[]; skipped_checks: Check[] } };
  try {
    report = JSON.parse(r.stdout);
  } catch {
    return t.fail(`checkov gave no JSON report (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  t.comment(`checkov dockerfile: ${report.summary.passed} passed, ${report.summary.failed} failed, skipped: ${Object.keys(DOCKERFILE_SKIPS).join(', ')}`);
  t.same(report.results.failed_checks.map((c) => `${c.check_id} ${c.check_name}`), [], 'no failed check');
  t.ok(report.summary.passed >= 20, `the Dockerfile policies ran (${report.summary.passed} passed)`);
  t.equal(r.status, 0, `checkov exit code 0:\n${r.stderr.slice(-2000)}`);
});

// ---- npm audit ----------------------------------------------------------------------------------------------------

/** Runs npm audit once; a registry that refuses the advisory POST is reported as a skip with the reason. */
function npmAudit() {
  const npm = process.env.npm_execpath && existsSync(process.env.npm_execpath) ? process.env.npm_execpath : 'npm';
  const r = npm === 'npm' ? run('npm', ['audit', '--omit=dev', '--json']) : run(process.execPath, [npm, 'audit', '--omit=dev', '--json']);
  let report: { metadata?: { vulnerabilities?: Record<string, number>; dependencies?: { prod?: number } }; vulnerabilities?: Record<string, { severity: string; via: unknown[] }>; error?: unknown; message?: string } | undefined;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    report = undefined;
  }
  // A read-only registry (it allows only GET and HEAD, as on this project's build machines) cannot take the audit
  // POST at all: nothing was checked, which is reported as a skip with its reason, never as a pass. The CI workflow
  // on GitHub reaches the real registry, where this test runs in full.
  const refused = !report?.metadata?.vulnerabilities && /^405 Method Not Allowed - POST /.test(report?.message ?? '');
  return { r, report, skip: refused ? `npm audit needs POST to the registry's advisory API, which this registry refuses: ${report?.message}` : false };
}

const audit = npmAudit();

t.test('npm audit --omit=dev: no high or critical advisory in the production dependencies', { skip: audit.skip }, async (t) => {
  const { r, report } = audit;
  if (!report) {
    return t.fail(`npm audit printed no JSON report (exit ${r.status}):\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 2000)}`);
  }
  const counts = report.metadata?.vulnerabilities;
  if (!counts) {
    // No advisory data is not "no advisories": the registry's audit endpoint must answer for this test to pass.
    return t.fail(
      `npm audit could not get advisories from the registry's audit endpoint, so nothing was checked: ${report.message ?? JSON.stringify(report.error ?? report).slice(0, 400)}\n` +
        'Run it where the npm registry audit API (POST /-/npm/v1/security/advisories/bulk) is reachable.',
    );
  }
  t.comment(`npm audit --omit=dev: ${JSON.stringify(counts)} over ${report.metadata?.dependencies?.prod ?? '?'} production dependencies`);
  const serious = Object.entries(report.vulnerabilities ?? {}).filter(([, v]) => v.severity === 'high' || v.severity === 'critical');
  t.same(serious.map(([name, v]) => `${name} (${v.severity})`), [], 'no high or critical advisory');
  t.equal((counts.high ?? 0) + (counts.critical ?? 0), 0);
});

// ---- secret scan of the git history -------------------------------------------------------------------------------

interface Finding {
  rule: string;
  commit: string;
  file: string;
  line: string;
}

/** What a leaked credential looks like. Patterns are written so that this file does not match itself. */
const RULES: Array<{ rule: string; re: RegExp }> = [
  { rule: 'AWS access key id', re: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b/ },
  { rule: 'AWS secret access key', re: /aws_?secret_?access_?key\W{1,4}[A-Za-z0-9/+=]{40}\b/i },
  { rule: 'private key', re: new RegExp(['-----BEGIN', '(?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY', '-----'].join(' ?')) },
  { rule: 'GitHub token', re: /\b(?:ghp|gho|ghs|ghu|ghr|github_pat)_[A-Za-z0-9_]{30,}\b/ },
  { rule: 'Slack token', re: /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/ },
  { rule: 'npm token', re: /\bnpm_[A-Za-z0-9]{36}\b/ },
  { rule: 'Google API key', re: /\bAIza[0-9A-Za-z_-]{35}\b/ },
];

/** `name = "value"` style assignments whose name says secret and whose value looks random. */
const ASSIGNMENT = /\b([A-Za-z_]*(?:secret|password|passwd|token|api_?key|private_?key|signing_?key|access_?key)[A-Za-z_]*)\b["']?\s*[:=]\s*["']([^"'\s]{16,})["']/i;

export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/** Values that look secret but are not, each with its reason. */
const ALLOWED_VALUES: Array<{ re: RegExp; reason: string }> = [
  { re: /^\$\{|^\$\(|^<|^process\.env|^\{\{/, reason: 'a reference or template, not a value' },
  { re: /(?:must-?never|must-not|for-tests|fuzz-signing|fault-|not-a-real|placeholder|example|dummy|local|testing)/i, reason: 'a test fixture that names itself as one' },
];

export function scanDiff(diff: string): Finding[] {
  const findings: Finding[] = [];
  let commit = '';
  let file = '';
  for (const line of diff.split('\n')) {
    if (line.startsWith('commit ')) commit = line.slice(7, 19);
    else if (line.startsWith('+++ ')) file = line.slice(6);
    else if (line.startsWith('+') && !line.startsWith('+++')) {
      const text = line.slice(1);
      for (const { rule, re } of RULES) if (re.test(text)) findings.push({ rule, commit, file, line: text.trim().slice(0, 160) });
      const m = ASSIGNMENT.exec(text);
      const value = m?.[2] ?? '';
      if (m && entropy(value) >= 4 && /[0-9]/.test(value) && /[A-Za-z]/.test(value) && !ALLOWED_VALUES.some((a) => a.re.test(value))) {
        findings.push({ rule: `high-entropy value assigned to ${m[1]}`, commit, file, line: text.trim().slice(0, 160) });
      }
    }
  }
  return findings;
}

t.test('the scanner finds what it looks for', async (t) => {
  const fake = (parts: string[]) => parts.join('');
  const diff = [
    'commit 0123456789abcdef',
    '+++ b/leak.env',
    `+AWS_ACCESS_KEY_ID=${fake(['AKIA', 'ABCDEFGHIJKLMNOP'])}`,
    `+aws_secret_access_key = ${fake(['wJalrXUtnFEMI/K7MDENG/', 'bPxRfiCYEXAMPLEKEY'])}`,
    `+${fake(['-----BEGIN ', 'RSA PRIVATE KEY-----'])}`,
    `+const apiToken = "${fake(['q8Xz3Lk2', 'Vn7Rp4Tw9Ys1Bm6Hd0Jf'])}";`,
    '+const password = "aaaaaaaaaaaaaaaaaaaa";',
  ].join('\n');
  const rules = scanDiff(diff).map((f) => f.rule);
  t.same(rules, ['AWS access key id', 'AWS secret access key', 'private key', 'high-entropy value assigned to apiToken'], 'four leaks, the low-entropy value is not one');
});

t.test('no credential or private key anywhere in the git history', async (t) => {
  const r = run('git', ['log', '-p', '--all', '--no-color', '--unified=0', '--no-ext-diff']);
  t.equal(r.status, 0, `git log: ${r.stderr}`);
  const commits = (r.stdout.match(/^commit [0-9a-f]{40}/gm) ?? []).length;
  const lines = (r.stdout.match(/^\+(?!\+\+)/gm) ?? []).length;
  const findings = scanDiff(r.stdout);
  t.comment(`secret scan: ${commits} commits, ${lines} added lines, ${findings.length} findings`);
  t.ok(commits > 10, `the whole history was read (${commits} commits)`);
  t.same(findings.map((f) => `${f.commit} ${f.file}: ${f.rule}: ${f.line}`), [], 'no finding');
});
