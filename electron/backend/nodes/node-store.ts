// The nodes the user added by hand (host, user, key), kept in the console's config folder so that
// they are still there at the next launch, and the built-in ones (the lab's), listed first and
// never stored: they come and go with the lab.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SshNode } from '../../../shared/api/console-contract.ts';
import { ConsoleError } from '../../../shared/api/errors.ts';
import { errorMap, fieldPath } from '../../../shared/model/validation.ts';

const StoredNodes = z.object({ nodes: z.array(SshNode) });

export class NodeStore {
  private nodes: SshNode[];

  constructor(
    private readonly path: string,
    private readonly builtIn: readonly SshNode[] = [],
  ) {
    this.nodes = this.load();
  }

  private load(): SshNode[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const refuse = (why: string) => new Error(`${this.path} is not a node list the console wrote: ${why}. Fix that, or move the file aside to start afresh (the console then lists no nodes of yours).`);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw refuse(`it is not JSON (${(error as Error).message})`);
    }
    const parsed = StoredNodes.safeParse(document, { reportInput: true, error: errorMap });
    if (!parsed.success) throw refuse(parsed.error.issues.map((issue) => `${fieldPath(issue.path) || '(top level)'} ${issue.message}`).join('; '));
    return parsed.data.nodes;
  }

  private save(): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify({ nodes: this.nodes }, null, 2), { mode: 0o600 });
    renameSync(temporary, this.path); // atomic: a crash never leaves half a file
  }

  list(): SshNode[] {
    return [...this.builtIn, ...this.nodes];
  }

  get(id: string): SshNode {
    const node = this.builtIn.find((n) => n.id === id) ?? this.nodes.find((n) => n.id === id);
    if (!node) throw new ConsoleError('not-found', `There is no node ${id}; it may have been removed. Reload the node list.`);
    return node;
  }

  add(fields: Omit<SshNode, 'id' | 'name'> & { name?: string }): SshNode {
    const node: SshNode = { ...fields, id: randomUUID(), name: fields.name ?? fields.host };
    this.nodes.push(node);
    this.save();
    return node;
  }

  remove(id: string): boolean {
    if (this.builtIn.some((n) => n.id === id)) {
      throw new ConsoleError('invalid-request', `${id} is one of the lab's nodes; it goes when the lab goes (npm run lab -- down).`);
    }
    const before = this.nodes.length;
    this.nodes = this.nodes.filter((n) => n.id !== id);
    if (this.nodes.length === before) return false;
    this.save();
    return true;
  }
}
