// ESLint rule `gingham/layering`: every import must go in a direction docs/architecture.md allows.
// Modelled on VS Code's `local/code-layering`: the picture of the layers is data (layers.mjs),
// so that it is checked on every `npm test` and cannot rot.
import path from 'node:path';
import { builtinModules } from 'node:module';
import { layerOf, testOnlyPackages } from './layers.mjs';

const builtins = new Set(builtinModules);
const isTestFile = (rel) => /\.test\.tsx?$/.test(rel) || rel.includes('/testing/');

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function matchesPackage(specifier, allowed) {
  return allowed.some((entry) => (entry.endsWith('/') ? specifier.startsWith(entry) : packageName(specifier) === entry));
}

/** The reason an import is not allowed, or undefined when it is. */
export function checkImport(fromRel, specifier) {
  const layer = layerOf(fromRel);
  if (!layer) return undefined;
  const test = isTestFile(fromRel);

  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), specifier));
    const targetLayer = layerOf(target);
    if (!targetLayer) return undefined;
    // The lab is the test bed (a real control plane, nodes, pods, sshd): any test may use it.
    if (test && targetLayer.name === 'lab') return undefined;
    if (!layer.imports.includes(targetLayer.name)) {
      return `${layer.name} may not import from ${targetLayer.name} (${target}): ${layer.name} imports only ${layer.imports.join(', ')}. Move the shared part to shared/.`;
    }
    // Test helpers are for tests and test beds: what the product runs must not depend on them.
    if (!test && !layer.testBed && isTestFile(target)) {
      return `${fromRel} is product code and may not import the test helper ${target}. Move what both need out of testing/.`;
    }
    return undefined;
  }

  if (specifier === 'electron' || specifier.startsWith('electron/')) {
    return layer.electron ? undefined : `only electron/main and electron/preload may import electron; ${layer.name} must stay runnable without it.`;
  }
  if (specifier.startsWith('node:') || builtins.has(packageName(specifier))) {
    if (layer.node || test) return undefined;
    return `${layer.name} may not import the Node module ${specifier}: it runs where Node does not (the renderer, a browser). Use a pure library or Web APIs.`;
  }
  if (matchesPackage(specifier, testOnlyPackages)) {
    return test || layer.name === 'e2e' ? undefined : `${specifier} is test tooling; only test files may import it.`;
  }
  // A layer's package list keeps what it ships pure and browser-safe; its tests and test helpers run
  // under Node and may use any package (a schema validator, a property tester).
  if (layer.packages && !test && !matchesPackage(specifier, layer.packages)) {
    return `${layer.name} may import only these packages: ${layer.packages.join(', ')} (got ${specifier}). Add a pure, browser-safe library to scripts/lint/layers.mjs if it belongs there.`;
  }
  return undefined;
}

/** @type {import('eslint').Rule.RuleModule} */
export const layeringRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce the import directions of the architecture (shared <- agent, backend, renderer).' },
    schema: [],
    messages: { layering: '{{reason}}' },
  },
  create(context) {
    const rel = path.relative(context.cwd, context.filename).split(path.sep).join('/');
    const check = (node, source) => {
      if (!source || typeof source.value !== 'string') return;
      const reason = checkImport(rel, source.value);
      if (reason) context.report({ node, messageId: 'layering', data: { reason } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source : undefined),
      TSImportType: (node) => check(node, node.argument?.literal ?? node.argument),
      TSExternalModuleReference: (node) => check(node, node.expression),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') {
          check(node, node.arguments[0]);
        }
      },
    };
  },
};

export default { rules: { layering: layeringRule } };
