/**
 * One SERVER span, one histogram observation and one access-log line per request, from two hooks.
 * Routes with `config: { observe: false }` (health probes) are neither traced, counted nor logged.
 */
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CONTRACT } from '../config.js';
import { accessLogger } from '../logger.js';
import { UNMATCHED_ROUTE, type Metrics } from '../metrics.js';
import type { Startup } from '../startup.js';
import type { Telemetry } from '../telemetry.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: not traced, not counted in metrics, not logged (health probes). */
    observe?: boolean;
  }
  interface FastifyRequest {
    /** True for the first request this process serves (the one that woke it from zero). */
    firstRequest: boolean;
    /** This request's SERVER span (a non-recording span when tracing is off or not sampled). */
    span: Span | null;
    /** The OpenTelemetry context carrying `span`. */
    otelContext: Context | null;
  }
}

export interface ObserveOptions {
  telemetry: Telemetry;
  metrics: Metrics;
  startup: Startup;
  /** The startup `secrets.load` span, linked from the first request's span. */
  startupSpan: () => import('@opentelemetry/api').SpanContext | undefined;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);
/** Query parameters whose values never reach a span (the semantic conventions' list, plus common tokens). */
const SENSITIVE_QUERY = /^(x-amz-signature|x-amz-credential|x-amz-security-token|awsaccesskeyid|signature|sig|token|access_token|api_key|apikey|key|password)$/i;
const TRACERESPONSE = CONTRACT.traceResponseHeader;

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq === -1 ? pair : pair.slice(0, eq);
      return eq !== -1 && SENSITIVE_QUERY.test(decodeURIComponentSafe(key)) ? `${key}=REDACTED` : pair;
    })
    .join('&');
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const observe: FastifyPluginCallback<ObserveOptions> = (app, opts, done) => {
  const { telemetry, metrics, startup } = opts;
  const tracer = telemetry.tracer;
  let served = 0;

  app.decorateRequest('firstRequest', false);
  app.decorateRequest('span', null);
  app.decorateRequest('otelContext', null);

  // Handlers run inside their request's context, so trace.getActiveSpan() and child spans work in user code
  // even after the body was read from the socket (whose callbacks run outside the onRequest context).
  app.addHook('onRoute', (route) => {
    if (route.config?.observe === false) return;
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const ctx = request.otelContext;
      // A request without a body reaches its handler inside onRequest's context.with already: entering it again
      // costs a context switch and buys nothing.
      return ctx && context.active() !== ctx ? context.with(ctx, handler, this, request, reply) : handler.call(this, request, reply);
    } as typeof handler;
  });

  app.addHook('onRequest', (request, reply, next) => {
    if (request.routeOptions.config.observe === false) {
      next();
      return;
    }
    served += 1;
    const first = served === 1;
    request.firstRequest = first;
    metrics.activeRequests.inc();

    const route = request.routeOptions.url;
    const raw = request.method;
    const method = KNOWN_METHODS.has(raw) ? raw : '_OTHER';
    const url = request.url;
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    // What a sampler may look at is given at creation; the rest (client address through the proxy trust check,
    // host parsing, query redaction) is computed only for spans that are recorded: at 10 % sampling, one in ten.
    const attributes: Attributes = { 'http.request.method': method, 'url.path': path };
    if (route !== undefined) attributes['http.route'] = route;

    let links: Link[] | undefined;
    if (first) {
      attributes['function.cold_start'] = true;
      const startupSpan = opts.startupSpan();
      if (startupSpan) links = [{ context: startupSpan, attributes: { 'function.link': 'startup' } }];
    }

    const name = method === '_OTHER' ? 'HTTP' : route === undefined ? method : `${method} ${route}`;
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes, links }, parent);
    if (span.isRecording()) {
      const more: Attributes = {
        'url.scheme': request.protocol,
        'network.protocol.version': request.raw.httpVersion,
        'client.address': request.ip,
      };
      if (method === '_OTHER') more['http.request.method_original'] = raw;
      if (q !== -1) more['url.query'] = redactQuery(url.slice(q + 1));
      const host = request.host;
      if (host) {
        const colon = host.lastIndexOf(':');
        if (colon > 0 && !host.endsWith(']')) {
          more['server.address'] = host.slice(0, colon);
          more['server.port'] = Number(host.slice(colon + 1));
        } else {
          more['server.address'] = host;
        }
      }
      const ua = request.headers['user-agent'];
      if (ua) more['user_agent.original'] = ua;
      span.setAttributes(more);
    }
    const ctx = trace.setSpan(parent, span);
    request.span = span;
    request.otelContext = ctx;

    const sc = span.spanContext();
    if (trace.isSpanContextValid(sc)) {
      const flags = sc.traceFlags.toString(16).padStart(2, '0');
      reply.header(TRACERESPONSE, `00-${sc.traceId}-${sc.spanId}-${flags}`);
    }
    // The response's 'close' comes exactly once, after 'finish' or when the connection goes first (the client gave
    // up, queue-proxy cancelled the request or hit the revision timeout), whether or not the body was read: a request
    // that never finishes ends here, as aborted. Fastify's onRequestAbort covers only requests aborted mid-body.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) finish(request, null);
    });
    // Lines logged inside the request's context carry its trace ids (the logger's mixin reads the active span).
    context.with(ctx, next);
  });

  app.addHook('onSend', (request, reply, payload, next) => {
    if (request.firstRequest && !startup.has('first_response')) {
      startup.mark('first_response');
      reply.header(CONTRACT.firstResponseHeader, startup.serverTiming());
    }
    next(null, payload);
  });

  // error.type: the exception class when a handler threw, else the status code (set in finish) for 5xx.
  const errorTypes = new WeakMap<FastifyRequest, string>();
  app.addHook('onError', (request, _reply, error, next) => {
    errorTypes.set(request, error.name || 'Error');
    next();
  });

  const access = accessLogger(app.log);
  /** One access line: request and trace ids as request.log would add them, without its per-line redaction pass. */
  const logAccess = (request: FastifyRequest, span: Span, fields: Record<string, unknown>, msg: string) => {
    if (access === undefined) {
      request.log.info(fields, msg);
      return;
    }
    if (!access.isLevelEnabled('info')) return;
    const sc = span.spanContext();
    access.info(
      trace.isSpanContextValid(sc) ? { request_id: request.id, trace_id: sc.traceId, span_id: sc.spanId, ...fields } : { request_id: request.id, ...fields },
      msg,
    );
  };

  /** Ends the request's span, counts it and writes its one access-log line; `reply` is null when the client aborted. */
  const finish = (request: FastifyRequest, reply: FastifyReply | null) => {
    const span = request.span;
    if (span === null) return;
    request.span = null;
    metrics.activeRequests.dec();
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const path = request.url.split('?', 1)[0];
    if (reply === null) {
      span.setAttribute('error.type', 'aborted');
      span.end();
      logAccess(request, span, { method: request.method, route, path }, 'request aborted by the client');
      return;
    }
    const status = reply.statusCode;
    const method = KNOWN_METHODS.has(request.method) ? request.method : '_OTHER';
    metrics.requestDuration.observe({ method, route, status_code: String(status) }, reply.elapsedTime / 1000);
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) {
      span.setAttribute('error.type', errorTypes.get(request) ?? String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
    logAccess(
      request,
      span,
      { method: request.method, route, path, statusCode: status, durationMs: Math.round(reply.elapsedTime * 10) / 10 },
      'request completed',
    );
  };

  app.addHook('onResponse', (request, reply, next) => {
    finish(request, reply);
    next();
  });

  done();
};

export default fp(observe, { name: 'observe', fastify: '5.x' });
