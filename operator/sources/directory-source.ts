/**
 * The directory source: the operator's reconcile loop fed from YAML files in a folder instead of
 * the Kubernetes API (ModelRoute, ModelServer, ExternalModelProvider, InferencePool, Pod, ConfigMap
 * and Secret objects),
 * for local runs and tests. It reads every *.yaml, *.yml and *.json file
 * (multi-document YAML allowed), validates each object as the API server would, and behaves like
 * one: an invalid object is reported with file, object and field, and its last valid version stays
 * in force; a file that no longer parses keeps its last valid objects. Objects without
 * creationTimestamp get the time they were first seen, and generation counts spec changes.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import { loadAllBounded, YAML_LIMITS } from '../../shared/util/bounded-yaml';
import type { ConfigMap, Pod, Secret } from '../../shared/api/core-types';
import type { ExternalModelProvider } from '../../shared/api/external-provider';
import type { InferencePool } from '../../shared/api/inference-pool';
import type { ModelRoute } from '../../shared/api/model-route';
import type { ModelServer } from '../../shared/api/model-server';
import { validateObject } from '../../shared/api/validate';
import type { ObjectSet } from '../../shared/snapshot/compile';

/** A problem found in a file, precise enough to fix without searching. */
export interface FileIssue {
  /** File path relative to the watched folder. */
  file: string;
  /** 0-based document index in a multi-document file. */
  document: number;
  /** `Kind namespace/name` when it could be read. */
  object: string;
  /** Field path inside the object. */
  path: string;
  message: string;
}

/** One load of the folder. */
export interface DirectoryLoad {
  objects: ObjectSet;
  issues: FileIssue[];
}

type AnyObject = ModelRoute | ModelServer | ExternalModelProvider | Pod | ConfigMap | Secret | InferencePool;

function identity(doc: unknown): { kind: string; key: string } | null {
  if (typeof doc !== 'object' || doc === null) return null;
  const d = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof d.kind !== 'string' || typeof d.metadata?.name !== 'string') return null;
  const ns = typeof d.metadata.namespace === 'string' ? d.metadata.namespace : 'default';
  return { kind: d.kind, key: `${d.kind} ${ns}/${d.metadata.name}` };
}

/** Deepest folder level read below the watched folder. */
const MAX_DIR_DEPTH = 8;

/** The object files under `dir` (sorted), and the folders holding them (for watching). */
function listTree(dir: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > MAX_DIR_DEPTH) return;
    dirs.push(d);
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return; // removed while we looked; the next event or poll sees the new tree
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(p, depth + 1);
      else if (/\.(ya?ml|json)$/.test(name)) files.push(p);
    }
  };
  walk(dir, 0);
  return { files, dirs };
}

function listFiles(dir: string): string[] {
  return listTree(dir).files;
}

/**
 * What the poll compares: every object file's path, inode, size and mtime. stat follows
 * symlinks, so a ConfigMap volume's `..data` swap changes the inodes seen through its links.
 */
function treeSignature(files: readonly string[]): string {
  return files.map((f) => {
    const st = statSync(f, { throwIfNoEntry: false });
    return st ? `${f}:${st.ino}:${st.size}:${st.mtimeMs}` : `${f}:gone`;
  }).join('\n');
}

/** Watch tuning; production uses the defaults. */
export interface DirectoryWatchOptions {
  /** Compare the tree's stat signature this often, ms, as a fallback to fs.watch (default 1000). */
  pollIntervalMs?: number;
}

/** Loads a folder of API objects, remembering last valid versions between loads. */
export class DirectorySource {
  readonly dir: string;
  private readonly lastGood = new Map<string, AnyObject>();
  private readonly fileObjects = new Map<string, string[]>();
  private readonly firstSeen = new Map<string, string>();
  private readonly generations = new Map<string, { specHash: string; generation: number }>();
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private lastSignature = '';
  private onChange: (() => void) | null = null;
  private debounceMs = 0;
  private readonly now: () => Date;

  constructor(dir: string, now: () => Date = () => new Date()) {
    this.dir = dir;
    this.now = now;
  }

  /** Reads every file now. */
  load(): DirectoryLoad {
    const issues: FileIssue[] = [];
    const current = new Map<string, AnyObject>();
    const seenFiles = new Map<string, string[]>();
    for (const path of listFiles(this.dir)) {
      const file = relative(this.dir, path);
      let docs: unknown[];
      try {
        // Bound the read as well as the parse: a huge file is refused before it is in memory.
        const size = statSync(path).size;
        if (size > YAML_LIMITS.maxChars) throw new Error(`file is ${size} bytes; the limit is ${YAML_LIMITS.maxChars}`);
        docs = loadAllBounded(readFileSync(path, 'utf8'));
      } catch (err) {
        const keep = this.fileObjects.get(file) ?? [];
        issues.push({ file, document: 0, object: '', path: '', message: `${(err as Error).message.split('\n')[0]}; ${keep.length ? `keeping its last valid objects (${keep.join(', ')})` : 'no objects from it are in force'}` });
        for (const key of keep) {
          const obj = this.lastGood.get(key);
          if (obj) current.set(key, obj);
        }
        seenFiles.set(file, keep);
        continue;
      }
      const keys: string[] = [];
      docs.forEach((doc, index) => {
        if (doc === null || doc === undefined) return;
        const id = identity(doc);
        const result = validateObject(doc);
        if (!result.ok) {
          const prior = id ? this.lastGood.get(id.key) : undefined;
          for (const issue of result.issues) {
            issues.push({ file, document: index, object: id?.key ?? '', path: issue.path, message: issue.message });
          }
          if (id && prior) {
            current.set(id.key, prior);
            keys.push(id.key);
            issues.push({ file, document: index, object: id.key, path: '', message: 'object refused; its last valid version stays in force' });
          }
          return;
        }
        const key = identity(result.object)!.key;
        if (current.has(key)) {
          issues.push({ file, document: index, object: key, path: 'metadata.name', message: `${key} is defined twice; the first definition wins, rename or remove this one` });
          return;
        }
        const obj = this.stamp(key, result.object);
        this.lastGood.set(key, obj);
        current.set(key, obj);
        keys.push(key);
      });
      seenFiles.set(file, keys);
    }
    this.fileObjects.clear();
    for (const [f, k] of seenFiles) this.fileObjects.set(f, k);
    for (const key of [...this.lastGood.keys()]) if (!current.has(key)) this.lastGood.delete(key);

    const objects: ObjectSet = { routes: [], servers: [], pods: [], configMaps: [], inferencePools: [], externalProviders: [], secrets: [] };
    for (const obj of current.values()) {
      if (obj.kind === 'ModelRoute') (objects.routes as ModelRoute[]).push(obj);
      else if (obj.kind === 'ModelServer') (objects.servers as ModelServer[]).push(obj);
      else if (obj.kind === 'Pod') (objects.pods as Pod[]).push(obj);
      else if (obj.kind === 'InferencePool') (objects.inferencePools as InferencePool[]).push(obj);
      else if (obj.kind === 'ExternalModelProvider') (objects.externalProviders as ExternalModelProvider[]).push(obj);
      else if (obj.kind === 'Secret') (objects.secrets as Secret[]).push(obj);
      else (objects.configMaps as ConfigMap[]).push(obj);
    }
    return { objects, issues };
  }

  /** The file (relative path) that defines an object named `Kind namespace/name`, if any. */
  fileOf(object: string): string | undefined {
    for (const [file, keys] of this.fileObjects) if (keys.includes(object)) return file;
    return undefined;
  }

  /** Fills creationTimestamp and generation the way the API server would. */
  private stamp<T extends AnyObject>(key: string, obj: T): T {
    const meta = obj.metadata;
    if (!meta.namespace) meta.namespace = 'default';
    if (!meta.creationTimestamp) {
      let seen = this.firstSeen.get(key);
      if (!seen) {
        seen = this.now().toISOString();
        this.firstSeen.set(key, seen);
      }
      meta.creationTimestamp = seen;
    }
    if (meta.generation === undefined && 'spec' in obj) {
      const specHash = createHash('sha256').update(JSON.stringify(obj.spec)).digest('hex');
      const prev = this.generations.get(key);
      const generation = !prev ? 1 : prev.specHash === specHash ? prev.generation : prev.generation + 1;
      this.generations.set(key, { specHash, generation });
      meta.generation = generation;
    }
    return obj;
  }

  /**
   * Calls `onChange` (debounced by `debounceMs`) after files in the folder change.
   *
   * Node's recursive fs.watch follows files, not names: a file replaced by rename (an editor's
   * atomic save, git checkout, a ConfigMap volume's symlink swap) leaves the watch on the old
   * inode, and later replacements went unseen. So every folder of the tree is watched
   * (non-recursively: a folder's watch reports any name in it that changes), any event
   * re-scans the whole tree and re-watches its folders, and a stat poll catches what fs.watch
   * does not deliver (NFS, some overlay filesystems), as ApiKeyStore does for key files.
   */
  watch(debounceMs: number, onChange: () => void, opts: DirectoryWatchOptions = {}): void {
    this.onChange = onChange;
    this.debounceMs = debounceMs;
    const tree = this.rewatch();
    this.lastSignature = treeSignature(tree.files);
    this.poll = setInterval(() => {
      if (treeSignature(listFiles(this.dir)) !== this.lastSignature) this.schedule();
    }, opts.pollIntervalMs ?? 1000);
    // Not unref'd: in directory mode this watch is the operator's work, and keeps it running.
  }

  /** Watches every folder of the tree now, and only those; returns the tree. */
  private rewatch(): { files: string[]; dirs: string[] } {
    const tree = listTree(this.dir);
    const wanted = new Set(tree.dirs);
    for (const [d, w] of this.watchers) {
      if (wanted.has(d)) continue;
      w.close();
      this.watchers.delete(d);
    }
    for (const d of wanted) {
      if (this.watchers.has(d)) continue;
      try {
        const w = watch(d, { persistent: false }, () => this.schedule());
        // A folder removed or unreadable: drop its watch; the next scan decides again.
        w.on('error', () => {
          w.close();
          this.watchers.delete(d);
        });
        this.watchers.set(d, w);
      } catch {
        // Gone between the scan and the watch; the poll still covers it.
      }
    }
    return tree;
  }

  /** Trailing debounce: one save is several events; re-scan once after the last. */
  private schedule(): void {
    if (!this.onChange) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const tree = this.rewatch();
      this.lastSignature = treeSignature(tree.files);
      this.onChange?.();
    }, this.debounceMs);
  }

  /** Stops watching. */
  close(): void {
    this.onChange = null;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
  }
}
