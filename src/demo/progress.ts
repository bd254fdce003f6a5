/**
 * Console output for the demo: steps, plain lines, and a progress bar that redraws in place on a terminal and
 * prints only on change elsewhere (CI logs stay readable).
 */
export class Progress {
  private barOpen = false;
  private lastBar = '';
  private readonly tty: boolean;
  private readonly t0 = Date.now();

  constructor(private readonly out: NodeJS.WritableStream) {
    this.tty = Boolean((out as NodeJS.WriteStream).isTTY);
  }

  private elapsed(): string {
    return `${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)}s`;
  }

  step(text: string): void {
    this.endBar();
    this.out.write(`[${this.elapsed()}] ${text}\n`);
  }

  line(text: string): void {
    this.endBar();
    this.out.write(`${text}\n`);
  }

  bar(label: string, done: number, total: number, note = ''): void {
    const width = 24;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(frac * width);
    const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${note}`;
    if (text === this.lastBar) return;
    this.lastBar = text;
    if (this.tty) {
      this.out.write(`\r${text}\u001b[K`);
      this.barOpen = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  endBar(): void {
    if (this.barOpen) this.out.write('\n');
    this.barOpen = false;
    this.lastBar = '';
  }

  done(text: string): void {
    this.step(text);
  }
}
