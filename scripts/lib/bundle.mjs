// The function's bundle: the runtime (function/src/boot.ts) with the author's function module bound to the
// specifier 'knative-fn/function'. Used by scripts/build.mjs (FUNCTION) and by the tests (their fixture functions).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
export const ROOT = resolve(import.meta.dirname, '../..');

// An ES module import of a Node built-in makes Node build the module's ESM facade, which reads every export,
// lazy getters included: for node:http that loads undici (WebSocket, MessageEvent...), about a third of a second
// of start-up. Importing built-ins through require() (as CommonJS code does) reads an export only when used.
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const BUILTIN = new RegExp(`^(node:)?(${builtinModules.map(escape).join('|')})$`);
const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(b) {
    // Static imports through a CommonJS shim.
    b.onResolve({ filter: BUILTIN }, (args) =>
      args.kind === 'import-statement'
        ? { path: args.path.replace(/^(node:)?/, 'node:'), namespace: 'builtin' }
        : args.kind === 'dynamic-import'
          ? { path: args.path.replace(/^(node:)?/, 'node:'), namespace: 'builtin-dynamic' }
          : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    // Dynamic imports (the AWS SDK's HTTP handler does `await import("node:http")` on the cold-start path, which
    // loaded undici) through an ES module shim: the module as `default`, and every export that is a plain value
    // as a named export. Exports behind lazy getters (node:http's WebSocket & co.) are only on `default`.
    b.onLoad({ filter: /.*/, namespace: 'builtin-dynamic' }, (args) => {
      const names = Object.entries(Object.getOwnPropertyDescriptors(require(args.path)))
        .filter(([name, d]) => 'value' in d && name !== 'default' && /^[A-Za-z_$][\w$]*$/.test(name))
        .map(([name]) => name);
      const named = names.length ? `export const { ${names.join(', ')} } = m;` : '';
      return { contents: `const m = require(${JSON.stringify(args.path)});\nexport default m;\n${named}\n`, loader: 'js' };
    });
  },
};

/** Must match BUNDLE_HOOK in function/src/telemetry-hooks.ts. */
const BUNDLE_HOOK_KEY = 'knative-fn.instrumented-module';

/**
 * The packages (and package files) the instrumentations patch: the runtime's defaults and the function's own
 * `instrumentations` export. Read by bundling a small entry (npm packages external, the public module bundled) and
 * importing it here: the function's module is evaluated once at build time.
 */
let entries = 0;
async function instrumentedModules(file) {
  // Only a function that exports `instrumentations` is evaluated here; any other is never run at build time.
  const own = (await moduleExports(file)).includes('instrumentations');
  const dir = join(ROOT, 'node_modules/.cache/knative-fn');
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, `instrumentations-${process.pid}-${(entries += 1)}.mjs`);
  const exportsMap = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).exports ?? {};
  await build({
    stdin: {
      contents: `import { defaultInstrumentations } from ${JSON.stringify(join(ROOT, 'function/src/telemetry.ts'))};
        import * as sdk from ${JSON.stringify(join(ROOT, 'function/src/telemetry-sdk.ts'))};
        ${own ? `import { instrumentations } from ${JSON.stringify(file)};` : 'const instrumentations = [];'}
        export default () => [...defaultInstrumentations(sdk), ...instrumentations];`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    outfile: entry,
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'warning',
    plugins: [
      {
        name: 'public-module',
        setup(b) {
          // 'knative-fn' and 'knative-fn/testing' (the package's own exports) are bundled, not left to resolve.
          b.onResolve({ filter: /^knative-fn(\/.*)?$/ }, (args) => {
            const target = exportsMap[`.${args.path.slice('knative-fn'.length)}`];
            return typeof target === 'string' ? { path: join(ROOT, target) } : undefined;
          });
        },
      },
    ],
  });
  try {
    let load;
    try {
      ({ default: load } = await import(pathToFileURL(entry).href));
    } catch (err) {
      throw new Error(
        `${file} exports \`instrumentations\`, so the build loads it once to read them, and loading it failed: ${err instanceof Error ? err.message : err}. ` +
          'Read settings in `init` or the routes, not when the module loads.',
      );
    }
    const modules = new Map(); // package name -> Set of hooked names (the package itself and/or files in it)
    for (const instrumentation of load()) {
      instrumentation.disable?.();
      for (const definition of instrumentation.getModuleDefinitions?.() ?? []) {
        if (BUILTIN.test(definition.name)) continue; // node:http & co.: patched in place at run time (telemetry-hooks.ts)
        const names = modules.get(definition.name) ?? new Set();
        if (definition.patch) names.add(definition.name);
        for (const f of definition.files ?? []) names.add(f.name);
        modules.set(definition.name, names);
      }
    }
    return modules;
  } finally {
    rmSync(entry, { force: true });
  }
}

/**
 * Instrumentations patch a package when require() loads it; bundled, it never is. This plugin bundles every package
 * an instrumentation names as CommonJS (resolved as Node's require() would: the file names instrumentations use are
 * the CommonJS builds'), and ends each module an instrumentation patches with a call to the runtime's hook
 * (function/src/telemetry-hooks.ts), which applies the instrumentation's own patch to the module's exports.
 */
function instrumentedPackages(modules) {
  const names = [...modules.keys()];
  /** The name an instrumentation knows this file by (the package, or package/file), if it names it; else undefined. */
  const hookedName = (path) => {
    const name = names.find((n) => path.includes(`${sep}node_modules${sep}${n.split('/').join(sep)}${sep}`));
    if (!name) return undefined;
    const marker = `${sep}node_modules${sep}${name.split('/').join(sep)}`;
    const root = path.slice(0, path.lastIndexOf(marker) + marker.length);
    const main = createRequire(join(dirname(root), 'noop.js')).resolve(name);
    const hooked = path === main ? name : `${name}/${relative(root, path).split(sep).join('/')}`;
    return modules.get(name).has(hooked) ? { hooked, version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version } : undefined;
  };
  return {
    name: 'instrumented-packages',
    setup(b) {
      if (names.length === 0) return;
      // An import of a package an instrumentation names: the file Node's require() would load, when that file is one
      // an instrumentation patches; every other import of the package is bundled as usual (its ES module build).
      const specifier = new RegExp(`^(${names.map(escape).join('|')})(/.*)?$`);
      b.onResolve({ filter: specifier }, (args) => {
        let path;
        try {
          path = createRequire(join(args.resolveDir || ROOT, 'noop.js')).resolve(args.path);
        } catch {
          return undefined;
        }
        return hookedName(path) ? { path } : undefined;
      });
      const inPackage = new RegExp(`[/\\\\]node_modules[/\\\\](${names.map((n) => n.split('/').map(escape).join('[/\\\\]')).join('|')})[/\\\\]`);
      b.onLoad({ filter: inPackage }, (args) => {
        const found = hookedName(args.path);
        if (!found) return undefined;
        const source = readFileSync(args.path, 'utf8');
        const call = `(globalThis[Symbol.for(${JSON.stringify(BUNDLE_HOOK_KEY)})] ?? ((n, v, e) => e))(${JSON.stringify(found.hooked)}, ${JSON.stringify(found.version)}, module.exports)`;
        return { contents: `${source}\n;module.exports = ${call};\n`, loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

/**
 * NodeSDK imports every exporter it could be configured with (OTLP over gRPC, HTTP/JSON and protobuf for traces,
 * metrics and logs; Zipkin; Prometheus): gRPC and protobufjs would load with it, before the first request. In the
 * bundle, the SDK's imports of them are replaced:
 * - a trace or logs exporter is a stand-in that loads the real one (its own chunk) on its first export, seconds after
 *   the first span, or never when another is configured; shutdown and forceFlush wait for it if it was loaded;
 * - a metrics exporter (constructed by NodeSDK, whose metric reader asks it questions synchronously) is taken from
 *   the modules telemetry-sdk.ts loads before the SDK starts, which telemetry.ts does when OTEL_METRICS_EXPORTER is set.
 */
const LAZY_EXPORTERS = {
  '@opentelemetry/exporter-trace-otlp-grpc': ['lazy', 'OTLPTraceExporter'],
  '@opentelemetry/exporter-trace-otlp-http': ['lazy', 'OTLPTraceExporter'],
  '@opentelemetry/exporter-trace-otlp-proto': ['lazy', 'OTLPTraceExporter'],
  '@opentelemetry/exporter-zipkin': ['lazy', 'ZipkinExporter'],
  '@opentelemetry/exporter-logs-otlp-grpc': ['lazy', 'OTLPLogExporter'],
  '@opentelemetry/exporter-logs-otlp-http': ['lazy', 'OTLPLogExporter'],
  '@opentelemetry/exporter-logs-otlp-proto': ['lazy', 'OTLPLogExporter'],
  '@opentelemetry/exporter-metrics-otlp-grpc': ['preloaded', 'OTLPMetricExporter'],
  '@opentelemetry/exporter-metrics-otlp-http': ['preloaded', 'OTLPMetricExporter'],
  '@opentelemetry/exporter-metrics-otlp-proto': ['preloaded', 'OTLPMetricExporter'],
  '@opentelemetry/exporter-prometheus': ['preloaded', 'PrometheusExporter'],
};
const sdkExporters = {
  name: 'sdk-exporters-on-demand',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(LAZY_EXPORTERS).map(escape).join('|')})$`);
    b.onResolve({ filter }, (args) =>
      /[/\\]@opentelemetry[/\\]sdk-node[/\\]dist[/\\](sdk|utils|create-from-env)\.mjs$/.test(args.importer) ? { path: args.path, namespace: 'sdk-exporter', pluginData: { resolveDir: args.resolveDir } } : undefined,
    );
    // @opentelemetry/instrumentation also registers each instrumentation with import-in-the-middle, whose hooks act
    // only in a process started with its module loader (--import .../hook.mjs), which the image never is; loading it
    // costs Node's worker_threads. A stand-in with the same Hook class, doing nothing, as it would do here.
    // Likewise require-in-the-middle, which would wrap Module.prototype.require for every require() of the process:
    // bundled packages never pass through require(), and function/src/telemetry-hooks.ts hands the instrumentations
    // the bundled packages and the Node built-ins they name. The bundle installs no require hook at all.
    b.onResolve({ filter: /^(import|require)-in-the-middle$/ }, (args) => ({ path: args.path, namespace: 'sdk-exporter' }));
    // The OTLP gRPC transport loads @grpc/grpc-js through a require() function of its own, which esbuild does not see:
    // in the image (no node_modules) it would fail, and here it loaded a second copy next to the bundled one (whose
    // classes the other copy's instanceof checks refuse). As plain require() calls, esbuild bundles the one copy.
    b.onLoad({ filter: /[/\\]@opentelemetry[/\\]otlp-grpc-exporter-base[/\\]dist[/\\].*\.mjs$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      return source.includes('__require("@grpc/grpc-js")')
        ? { contents: source.replaceAll('__require("@grpc/grpc-js")', 'require("@grpc/grpc-js")'), loader: 'js', resolveDir: dirname(args.path) }
        : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'sdk-exporter' }, (args) => {
      if (/-in-the-middle$/.test(args.path)) return { contents: 'export class Hook { unhook() {} }', loader: 'js' };
      const [how, name] = LAZY_EXPORTERS[args.path];
      const spec = JSON.stringify(args.path);
      const contents =
        how === 'lazy'
          ? `export class ${name} {
              constructor(...args) { this.args = args; this.real = undefined; }
              load() { return (this.real ??= import(${spec}).then((m) => new m.${name}(...this.args))); }
              export(items, done) { this.load().then((e) => e.export(items, done), (error) => done({ code: 1, error })); }
              forceFlush() { return this.real ? this.real.then((e) => e.forceFlush?.()) : Promise.resolve(); }
              shutdown() { return this.real ? this.real.then((e) => e.shutdown()) : Promise.resolve(); }
            }`
          : `export function ${name}(...args) {
              const m = globalThis[Symbol.for('knative-fn.metric-exporters')]?.get(${spec});
              if (!m) throw new Error(${JSON.stringify(`${args.path} is loaded only when OTEL_METRICS_EXPORTER is set at start-up`)});
              return new m.${name}(...args);
            }`;
      return { contents, loader: 'js', resolveDir: args.pluginData.resolveDir };
    });
  },
};

/** The module file of a function: FUNCTION is a folder holding index.ts, or a .ts file. Throws what is wrong. */
export function functionModule(fn) {
  const path = resolve(ROOT, fn);
  if (!existsSync(path)) throw new Error(`FUNCTION=${fn}: no such folder or file (${path})`);
  const file = statSync(path).isDirectory() ? join(path, 'index.ts') : path;
  if (!existsSync(file)) throw new Error(`FUNCTION=${fn}: the folder has no index.ts (the function's module)`);
  return file;
}

/** Checks that the module exports `routes` or `handler` (esbuild reads its exports, re-exports included). */
/** The names a module exports, read by esbuild without running it. */
async function moduleExports(file) {
  const out = await build({ entryPoints: [file], bundle: true, write: false, metafile: true, format: 'esm', platform: 'node', packages: 'external', logLevel: 'silent', outdir: '/nonexistent' });
  return Object.values(out.metafile.outputs).find((o) => o.entryPoint)?.exports ?? [];
}

export async function checkExports(file, fn = file) {
  const exports = await moduleExports(file);
  if (!exports.includes('routes') && !exports.includes('handler')) {
    throw new Error(`FUNCTION=${fn}: ${file} exports neither \`routes\` (a Fastify plugin) nor \`handler\` (a Lambda handler); it exports: ${exports.join(', ') || 'nothing'}`);
  }
  return exports;
}

const functionPlugin = (file) => ({
  name: 'function-module',
  setup(b) {
    b.onResolve({ filter: /^knative-fn\/function$/ }, () => ({ path: file }));
  },
});

/**
 * Bundles the runtime around the function module `file` into `outdir` (server.js and its chunks). Returns the
 * packages patched for the instrumentations (name -> the names they patch it by).
 */
export async function bundle({ file, outdir }) {
  const instrumented = await instrumentedModules(file);
  await build({
    entryPoints: { server: join(ROOT, 'function/src/boot.ts') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    // Prefer packages' ES module builds: named exports survive dynamic import() and tree-shaking works.
    mainFields: ['module', 'main'],
    target: 'node24',
    // Less to read and parse at start-up. Identifiers are not renamed, so function and class names survive without
    // keepNames, whose __name() helper ran Object.defineProperty on every closure created per request (5 % of CPU).
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [functionPlugin(file), builtinsThroughRequire, sdkExporters, instrumentedPackages(instrumented)],
    // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  // The image has no package.json above dist/: without this one Node would first try each chunk as CommonJS.
  writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);
  return instrumented;
}

/**
 * The start-up snapshot's entry (function/src/snapshot.ts) bundled into one CommonJS file (`outfile`), as Node's
 * snapshot builder (`node --build-snapshot`) requires: no chunks, no ES modules, require() of Node built-ins only.
 * The same runtime, function and plugins as bundle(); `instrumented` is what bundle() returned.
 */
export async function bundleSnapshotEntry({ file, outfile, instrumented }) {
  await build({
    entryPoints: [join(ROOT, 'function/src/snapshot.ts')],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    mainFields: ['module', 'main'],
    target: 'node24',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'warning',
    // The runtime's modules use import.meta.url for createRequire() only.
    define: { 'import.meta.url': '__snapshotUrl' },
    banner: { js: "const __snapshotUrl = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [functionPlugin(file), lazyBuiltins, builtinsThroughRequire, sdkExporters, instrumentedPackages(instrumented ?? (await instrumentedModules(file)))],
  });
}

/**
 * Built-ins whose native state V8 cannot serialise (node:http's parser binding, node:http2's session buffers): in the
 * snapshot's bundle each is a stand-in with every export of the module, a getter that loads the module on first use
 * (the HTTP client instrumentation patches the real module, which the getters read). Its tables (node:http's METHODS
 * and STATUS_CODES), which packages read as they load, are copies: the blob only ever runs on the Node that made it.
 */
const LAZY_BUILTINS = ['http', 'https', 'http2'];
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`) }, (args) =>
      args.namespace === 'lazy-builtin' ? { path: args.path, external: true } : { path: args.path.replace(/^(node:)?/, 'node:'), namespace: 'lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const m = require(args.path);
      const tables = Object.fromEntries(Object.keys(m).filter((n) => n === n.toUpperCase() && typeof m[n] === 'object').map((n) => [n, m[n]]));
      const names = Object.keys(m).filter((n) => n !== 'default' && !(n in tables));
      const spec = JSON.stringify(args.path);
      return {
        loader: 'js',
        contents: `let m; const load = () => (m ??= require(${spec})); const lazy = ${JSON.stringify(tables)};
          for (const n of ${JSON.stringify(names)}) Object.defineProperty(lazy, n, { enumerable: true, configurable: true, get: () => load()[n], set: (v) => { load()[n] = v; } });
          Object.defineProperty(lazy, 'default', { get: load });
          module.exports = lazy;`,
      };
    });
  },
};
