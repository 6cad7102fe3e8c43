/**
 * A one-line progress counter for long sweeps (parity runs, fuzzing): redrawn on stderr when stderr
 * is a terminal, silent when it is piped or redirected, so logs and CI output hold only results.
 */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly label: string,
    stream: { readonly isTTY?: boolean } = process.stderr,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** Count one finished item; redraws at most ten times a second. */
  tick(detail = ""): void {
    this.done++;
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && this.done < this.total) return;
    this.lastDraw = now;
    const secs = ((now - this.started) / 1000).toFixed(0);
    const tail = detail.length > 50 ? `…${detail.slice(-49)}` : detail;
    process.stderr.write(`\r\x1b[K${this.label} ${this.done}/${this.total} (${secs} s) ${tail}`);
  }

  /** Erase the line (terminal only). */
  end(): void {
    if (this.tty) process.stderr.write("\r\x1b[K");
  }
}
