/**
 * Instrumentations for packages bundled into dist/. An instrumentation patches a package when Node's require() loads
 * it (require-in-the-middle); a bundled package is never loaded through require(). scripts/lib/bundle.mjs therefore
 * bundles each file an instrumentation patches (a package's main file, or a file it names) as CommonJS, the file
 * Node's require() would load, and ends it with a call to the function this module installs on globalThis: `hook(name, version, exports)`, name being the package or the package file the
 * instrumentation names (`@smithy/core/dist-cjs/submodules/client/index.js`), version the bundled package's. The
 * instrumentation's own matching (names, supported versions, files) then patches the exports, as its require hook
 * would have: patchBundledModules() hands over the modules loaded before the instrumentations were registered, and
 * every module loaded after that is patched as it loads. Node built-ins the instrumentations name (node:http and
 * node:https for the HTTP client's) are patched in place when the instrumentations are registered. With this, the
 * bundle needs no require hook (the build replaces require-in-the-middle with a stand-in that does nothing).
 */
import type { Instrumentation, InstrumentationModuleDefinition } from '@opentelemetry/instrumentation';
import { createRequire, isBuiltin } from 'node:module';

/** The global the bundle's hooked modules call; scripts/lib/bundle.mjs writes the same key. */
export const BUNDLE_HOOK = Symbol.for('knative-fn.instrumented-module');

interface Loaded {
  name: string;
  /** undefined for a Node built-in. */
  version: string | undefined;
  exports: unknown;
}

/** What InstrumentationBase's require hook calls (not part of its typed API; stable since the 0.x releases). */
interface Patchable {
  getModuleDefinitions(): InstrumentationModuleDefinition[];
  _onRequire(module: InstrumentationModuleDefinition, exports: unknown, name: string, baseDir?: string): unknown;
  _extractPackageVersion?: (baseDir: string) => string | undefined;
}

const loaded: Loaded[] = [];
let registered: Patchable[] = [];

function isPatchable(i: Instrumentation | Patchable): i is Patchable {
  return typeof (i as Partial<Patchable>)._onRequire === 'function' && typeof (i as Partial<Patchable>).getModuleDefinitions === 'function';
}

function patch(instrumentation: Patchable, module: Loaded): unknown {
  let exports = module.exports;
  for (const definition of instrumentation.getModuleDefinitions()) {
    if (module.name !== definition.name && !module.name.startsWith(`${definition.name}/`)) continue;
    // The version the build read from the package's package.json (there is none next to the bundle); none for a
    // built-in, which the instrumentation recognises by the missing package directory.
    instrumentation._extractPackageVersion = () => module.version;
    try {
      exports = instrumentation._onRequire(definition, exports, module.name, module.version === undefined ? undefined : `/bundled/${definition.name}`);
    } finally {
      delete instrumentation._extractPackageVersion; // back to the prototype's
    }
  }
  return exports;
}

(globalThis as Record<symbol, unknown>)[BUNDLE_HOOK] = (name: string, version: string, exports: unknown): unknown => {
  const module: Loaded = { name, version, exports };
  for (const instrumentation of registered) module.exports = patch(instrumentation, module);
  loaded.push(module);
  return module.exports;
};

/**
 * Patches the bundled modules these instrumentations name: those loaded already (patches that change the module's
 * objects in place, as the AWS SDK's does on Client.prototype.send, take effect) and those loaded from now on.
 */
export function patchBundledModules(instrumentations: readonly Instrumentation[]): void {
  const patchable = (instrumentations as readonly (Instrumentation | Patchable)[]).filter(isPatchable);
  registered = [...registered, ...patchable];
  for (const instrumentation of patchable) {
    for (const module of loaded) module.exports = patch(instrumentation, module);
    // Node built-ins (http, https): one object per process, whoever loaded it; patched in place, so every later
    // http.request() call is instrumented, as require-in-the-middle would have done on their next require().
    for (const definition of instrumentation.getModuleDefinitions()) {
      if (!isBuiltin(definition.name)) continue;
      patch(instrumentation, { name: definition.name, version: undefined, exports: require(definition.name) });
    }
  }
}

const require = createRequire(import.meta.url);

/** The bundled modules handed over so far (name@version), for tests and diagnostics. */
export function bundledModules(): string[] {
  return loaded.map((m) => `${m.name}@${m.version}`);
}
