// Progress for `nook upload`: bars per file and overall on a terminal, one line per file otherwise.
import path from 'node:path';
import type { FileResult, UploaderEvents } from './uploader';
import type { ScannedFile } from './scan';

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

const bar = (fraction: number, width = 24) => {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
};

export interface Totals {
  files: number;
  bytes: number;
}

export class Progress implements UploaderEvents {
  private readonly active = new Map<string, { file: ScannedFile; sent: number }>();
  private readonly startedAt = Date.now();
  private doneFiles = 0;
  private doneBytes = 0;
  private hashed = 0;
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly totals: Totals,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly live = Boolean(process.stderr.isTTY),
  ) {
    if (this.live) this.timer = setInterval(() => this.draw(), 150);
  }

  onHashed(done: number): void {
    this.hashed = done;
  }

  onStart(file: ScannedFile): void {
    this.active.set(file.path, { file, sent: 0 });
  }

  onProgress(file: ScannedFile, bytes: number): void {
    const entry = this.active.get(file.path);
    if (entry) entry.sent = bytes;
  }

  onDone(result: FileResult): void {
    this.active.delete(result.file.path);
    this.doneFiles++;
    this.doneBytes += result.file.size;
    const line =
      result.status === 'failed'
        ? `failed     ${result.file.path}: ${result.reason}`
        : `${result.status.padEnd(10)} ${result.file.path}`;
    // On a terminal only failures stay on screen; the bars tell the rest.
    if (!this.live) this.out.write(`${line}\n`);
    else if (result.status === 'failed') this.print(line);
  }

  private print(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  private clear(): void {
    for (let i = 0; i < this.drawn; i++) this.out.write('\x1b[1A\x1b[2K');
    this.drawn = 0;
  }

  private draw(): void {
    this.clear();
    const lines: string[] = [];
    const inFlight = [...this.active.values()].reduce((sum, entry) => sum + entry.sent, 0);
    const bytes = this.doneBytes + inFlight;
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? bytes / seconds : 0;
    const width = Math.max(20, (this.out.columns || 80) - 60);
    for (const { file, sent } of [...this.active.values()].slice(0, 8)) {
      const name = path.basename(file.path).slice(0, width);
      lines.push(
        `  ${bar(file.size ? sent / file.size : 0, 16)} ${name} ${formatBytes(sent)}/${formatBytes(file.size)}`,
      );
    }
    if (this.hashed < this.totals.files && this.doneFiles === 0)
      lines.push(`hashing ${this.hashed}/${this.totals.files}`);
    lines.push(
      `${bar(this.totals.bytes ? bytes / this.totals.bytes : 1)} ${this.doneFiles}/${this.totals.files} files, ` +
        `${formatBytes(bytes)}/${formatBytes(this.totals.bytes)}, ${formatBytes(rate)}/s`,
    );
    this.out.write(lines.join('\n') + '\n');
    this.drawn = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.live) this.clear();
  }
}
