/**
 * A Node process's inspector (Chrome DevTools protocol over WebSocket), used only to force a full GC before reading
 * process.memoryUsage(): memory figures after GC are comparable between two points in time, raw ones are not.
 * The process must run with --inspect (NODE_OPTIONS) on an address only the test machine can reach.
 */
export class Inspector {
  #id = 0;
  private readonly ws: WebSocket;
  private constructor(ws: WebSocket) {
    this.ws = ws;
  }

  /** Connects to the URL a process printed ("Debugger listening on ws://..."); `host` replaces the printed host. */
  static async attach(output: string, host?: string): Promise<Inspector> {
    let url = /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
    if (!url) throw new Error(`the function did not print its inspector URL:\n${output.slice(-2000)}`);
    if (host) url = url.replace(/^ws:\/\/[^:/]+/, `ws://${host}`);
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    });
    return new Inspector(ws);
  }

  call(method: string, params: object = {}): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    return new Promise((resolve) => {
      const onMessage = (ev: MessageEvent) => {
        const m = JSON.parse(String(ev.data)) as { id?: number; result?: Record<string, unknown> };
        if (m.id !== id) return;
        this.ws.removeEventListener('message', onMessage);
        resolve(m.result ?? {});
      };
      this.ws.addEventListener('message', onMessage);
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  async memoryAfterGc(): Promise<{ heapUsed: number; rss: number }> {
    await this.call('HeapProfiler.collectGarbage');
    await this.call('HeapProfiler.collectGarbage');
    const r = await this.call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    const m = JSON.parse(String((r.result as { value: string }).value)) as { heapUsed: number; rss: number };
    return { heapUsed: m.heapUsed / 1_048_576, rss: m.rss / 1_048_576 };
  }

  close(): void {
    this.ws.close();
  }
}

