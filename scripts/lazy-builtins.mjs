// An esbuild plugin that makes Node built-in modules load on first use instead of at bundle start.
//
// Why: a bundle hoists every `import … from 'node:crypto'` to a require() that runs when its module is
// initialised, so `fwup --version` paid for child_process (commander requires it for executable
// subcommands, which fwup never uses), and `fwup inspect` for fs/promises, zlib, net, http and the
// rest, about 1-2 ms each on a cold start. Each listed module is replaced by an object with one getter
// per export that requires the real module the first time any export is read; code that uses the
// module sees the same values. Only modules whose exports object is a plain object are listed (a
// module that is itself a function or class, such as `stream`, cannot be stood in for this way).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Not listed: crypto and os, which every command but --version uses (makeContext reads the CPU count):
// a stand-in would only add its getters to their cost.
export const LAZY_BUILTINS = [
  'child_process', 'dgram', 'dns', 'fs/promises', 'http', 'http2', 'https', 'net', 'readline',
  'stream/web', 'tls', 'v8', 'worker_threads', 'zlib',
];

const NAMESPACE = 'fwup-lazy-builtin';

export function lazyBuiltins() {
  const names = new Set(LAZY_BUILTINS);
  const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.map((n) => n.replace('/', '\\/')).join('|')})$`);
  return {
    name: 'lazy-builtins',
    setup(build) {
      build.onResolve({ filter }, (args) => {
        const name = args.path.replace(/^node:/, '');
        if (!names.has(name)) return undefined;
        // The stand-in's own require() is the real module.
        if (args.namespace === NAMESPACE) return { path: `node:${name}`, external: true };
        return { path: name, namespace: NAMESPACE };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => {
        // The export names of this Node (the one that builds is the one that runs: npm runs the build).
        const keys = Object.getOwnPropertyNames(require(`node:${args.path}`)).filter((k) => k !== '__esModule');
        const getters = keys.map((k) => `  get ${JSON.stringify(k)}() { return load()[${JSON.stringify(k)}]; },`).join('\n');
        return {
          loader: 'js',
          contents: `let real;\nfunction load() { return (real ??= require(${JSON.stringify(`node:${args.path}`)})); }\nmodule.exports = {\n${getters}\n};\n`,
        };
      });
    },
  };
}
