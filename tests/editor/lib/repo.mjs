// Finds the .policy files of the repository (they change as the project grows: the tests take
// whatever is there).
import fs from 'node:fs';
import path from 'node:path';

const SKIP_DIRS = new Set(['node_modules', '.git']);
const isBuildDir = (name) => name === 'build' || name.startsWith('build-') || name.startsWith('cmake-build');

export function findPolicyFiles(root) {
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT' || e.code === 'EACCES') return; // removed meanwhile, or unreadable
      throw e;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (SKIP_DIRS.has(e.name) || isBuildDir(e.name) || e.name.startsWith('.')) continue;
        walk(path.join(dir, e.name));
      } else if (e.isFile() && e.name.endsWith('.policy')) {
        found.push(path.join(dir, e.name));
      }
    }
  };
  walk(root);
  return found.sort();
}

/** The file's text, or null if it disappeared since it was listed. */
export function readIfPresent(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
}
