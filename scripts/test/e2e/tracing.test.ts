/**
 * Traces through the real data path: caller -> queue-proxy -> function, exported to Jaeger; the first request's
 * span links to the startup `secrets.load` span; `make trace` prints the tree.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  REPO_ROOT,
  functionServerSpan,
  functionServerSpans,
  isQueueProxy,
  parentOf,
  send,
  serviceOf,
  startStack,
  tagOf,
  waitForTrace,
} from './harness.ts';

const run = promisify(execFile);

t.test('a request through queue-proxy is one trace: caller span -> queue-proxy spans -> the function SERVER span', async (t) => {
  const stack = await startStack(t);
  const service = stack.model.revision.serviceName;
  const fnUrl = stack.endpoints.FUNCTION_URL;

  // The first request after start: its span must lead to the startup phases.
  const first = await send(`${fnUrl}/`);
  t.equal(first.status, 200, `GET / through queue-proxy: ${first.body}`);
  t.ok(first.traceId, `traceresponse header present: ${String(first.headers.traceresponse)}`);
  const greeting = JSON.parse(first.body) as { firstRequest?: boolean; function?: string; revision?: string };
  t.equal(greeting.firstRequest, true, 'the greeting says this was the first request');
  t.equal(greeting.revision, stack.model.revision.revisionName, 'the function sees the revision name Knative would give it');

  const firstTrace = await waitForTrace(stack.endpoints.JAEGER_URL, first.traceId!, (tr) => !!functionServerSpan(tr, service));
  const firstSpan = functionServerSpan(firstTrace, service)!;
  const links = (firstSpan.references ?? []).filter((r) => r.refType === 'FOLLOWS_FROM' || r.traceID !== firstSpan.traceID);
  const inTrace = firstTrace.spans.find((s) => s.operationName === 'secrets.load');
  let startupFound = Boolean(inTrace);
  for (const link of links) {
    const linked = await waitForTrace(stack.endpoints.JAEGER_URL, link.traceID, (tr) => tr.spans.some((s) => s.spanID === link.spanID));
    const target = linked.spans.find((s) => s.spanID === link.spanID);
    if (target?.operationName === 'secrets.load') startupFound = true;
  }
  t.ok(startupFound, `the first request's trace contains or links to secrets.load (links: ${JSON.stringify(links)})`);

  // A caller with its own traceparent.
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const callerSpan = '00f067aa0ba902b7';
  const body = JSON.stringify({ hello: 'world' });
  const signed = await send(`${fnUrl}/digest`, { body, headers: { traceparent: `00-${callerTrace}-${callerSpan}-01` } });
  t.equal(signed.status, 200, `POST /digest: ${signed.body}`);
  t.equal(signed.traceId, callerTrace, 'traceresponse continues the caller trace');

  const trace = await waitForTrace(stack.endpoints.JAEGER_URL, callerTrace, (tr) => {
    const fn = functionServerSpan(tr, service);
    return !!fn && tr.spans.some((s) => s.spanID === parentOf(fn) && isQueueProxy(tr, s));
  });
  const fnSpans = functionServerSpans(trace, service);
  t.equal(fnSpans.length, 1, 'exactly one SERVER span of the function in the trace');
  const fnSpan = fnSpans[0]!;
  t.equal(fnSpan.operationName, 'POST /digest', 'span named {METHOD} {route}');
  t.equal(tagOf(fnSpan, 'http.route'), '/digest', 'span has http.route');
  t.equal(fnSpan.traceID, callerTrace, 'same trace as the caller');

  // Walk up from the function's span: queue-proxy's spans, then the caller's span (not in Jaeger: it is ours).
  const byId = new Map(trace.spans.map((s) => [s.spanID, s]));
  const chain: string[] = [];
  let cursor = fnSpan;
  for (;;) {
    const p = parentOf(cursor);
    if (!p) break;
    const parent = byId.get(p);
    if (!parent) {
      chain.push(`(outside: ${p})`);
      t.equal(p, callerSpan, "the top of the chain is the caller's span");
      break;
    }
    chain.push(`${isQueueProxy(trace, parent) ? 'queue-proxy' : serviceOf(trace, parent)}:${parent.operationName}`);
    cursor = parent;
  }
  const qpSpans = chain.filter((c) => c.startsWith('queue-proxy:'));
  t.ok(qpSpans.length > 0, `queue-proxy's spans are between the caller and the function: ${chain.join(' <- ')}`);
  t.ok(parentOf(fnSpan) !== callerSpan, "the function's parent is a queue-proxy span, not the caller's directly");

  // make trace prints the tree.
  const { stdout } = await run(process.execPath, [`${REPO_ROOT}/scripts/trace.ts`, callerTrace], {
    env: { ...process.env, JAEGER_URL: stack.endpoints.JAEGER_URL, TRACE_WAIT_SECONDS: '5' },
  });
  t.comment(stdout);
  t.match(stdout, new RegExp(`^trace ${callerTrace}: \\d+ spans, 2 services`), 'summary line');
  t.match(stdout, /POST \/digest \[server\] .*http\.route=\/digest/, 'the function span with its route');
  t.match(stdout, /child of 00f067aa0ba902b7, not in this trace/, "the caller's span is named as the root's parent");
  t.match(stdout, /(?:├─|└─) /, 'printed as a tree');

  const firstOut = await run(process.execPath, [`${REPO_ROOT}/scripts/trace.ts`, String(first.headers.traceresponse)], {
    env: { ...process.env, JAEGER_URL: stack.endpoints.JAEGER_URL, TRACE_WAIT_SECONDS: '5' },
  });
  t.match(firstOut.stdout, /links to .*secrets\.load/, "the first request's tree shows the startup link");
});
