/**
 * Graceful shutdown of an HTTP server with keep-alive clients. `server.close()` alone stops
 * accepting but lets every busy keep-alive connection take request after request, so a loaded
 * data plane never ran out of work before its drain bound and the last requests were reset.
 *
 * While draining: every answer not yet started carries `Connection: close`; a connection whose
 * answer had already started is closed once that answer is complete; idle connections are closed
 * at once, except one that finished an answer (or opened) within the last IDLE_GRACE_MS. Its
 * client may be writing the next request at this very moment, and closing under it would reset
 * that request; it gets the grace to send it (answered with `Connection: close`) and is closed
 * when the grace ends if nothing came. The server's close callback fires once all are closed.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/** How long a just-used idle connection may still bring a request after the drain begins, ms. */
export const IDLE_GRACE_MS = 250;

/** Per-connection state. */
interface Conn {
  /** Answers in progress on it (more than one only with pipelining). */
  busy: number;
  /** Those answers, to mark `Connection: close` on the ones not started when the drain begins. */
  responses: Set<ServerResponse>;
  /** When it was opened or last finished an answer. */
  lastActive: number;
}

/** Tracks connections and answers so a drain can close each connection as soon as it is free. */
export class ConnectionDrainer {
  private readonly conns = new Map<Socket, Conn>();
  private draining = false;
  private readonly server: Server;

  constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket: Socket) => {
      const conn: Conn = { busy: 0, responses: new Set(), lastActive: Date.now() };
      this.conns.set(socket, conn);
      socket.once('close', () => this.conns.delete(socket));
      // Opened while draining (accepted just before the listener closed): same grace as idle.
      if (this.draining) this.closeWhenIdle(socket, conn);
    });
    // Ahead of the request handler, so a request that arrives while draining gets
    // `Connection: close` even when the handler answers synchronously.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.draining) res.shouldKeepAlive = false;
      const conn = this.conns.get(req.socket);
      if (!conn) return;
      conn.busy++;
      conn.responses.add(res);
      res.once('close', () => {
        conn.busy--;
        conn.responses.delete(res);
        conn.lastActive = Date.now();
        // The answer promised keep-alive before the drain began: the connection is idle now,
        // with the same grace for a request the client may already be sending.
        if (this.draining && conn.busy === 0 && !req.socket.destroyed) this.closeWhenIdle(req.socket, conn);
      });
    });
  }

  /** True once `drain` was called. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Stops accepting, closes connections as they become free; resolves when all are closed. */
  drain(): Promise<void> {
    this.draining = true;
    // Not http.Server#close: since Node 19 it also destroys every idle connection at once, which
    // resets the request a keep-alive client is sending on one right now. net.Server#close stops
    // accepting and calls back once every connection has closed, leaving idle ones to us.
    const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(this.server, () => resolve()));
    for (const [socket, conn] of this.conns) {
      if (conn.busy === 0) this.closeWhenIdle(socket, conn);
      // Busy: an answer not started yet tells the client to send nothing more on it; one that
      // started is followed by the idle grace when it completes (above).
      else for (const res of conn.responses) if (!res.headersSent) res.shouldKeepAlive = false;
    }
    return closed;
  }

  /** Closes an idle connection now, or when its grace ends if it was active just now. */
  private closeWhenIdle(socket: Socket, conn: Conn): void {
    const wait = conn.lastActive + IDLE_GRACE_MS - Date.now();
    if (wait <= 0) {
      socket.destroy();
      return;
    }
    setTimeout(() => {
      if (conn.busy === 0 && !socket.destroyed) socket.destroy();
    }, wait).unref();
  }
}
