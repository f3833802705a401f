/**
 * Free loopback ports for the servers the tests and benchmarks start (collectors, Prometheus,
 * Redis). A port found free is released before the server binds it, so in a parallel suite
 * another process can take it in between: the server then fails to bind and says so, and the
 * start is tried again on new ports.
 *
 * - `freePort()`: bind port 0 on 127.0.0.1, read the port the kernel chose, release it.
 * - `ADDRESS_IN_USE`: what a server that could not bind prints (Go's net package, Redis).
 * - `onFreePorts(start)`: runs `start()` (which finds its own ports) again while it throws an
 *   error with `addressInUse: true`, three times at most.
 */
import { createServer } from 'node:net';

/** A free loopback TCP port: bind port 0, read the port the kernel chose, release it. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** What a server that could not bind one of its ports prints. */
export const ADDRESS_IN_USE = /address already in use/i;

/**
 * Runs `start()` and returns what it returns; while it throws an error with `addressInUse: true`
 * (a port taken between `freePort()` and the bind), runs it again, `attempts` times in all.
 * @template T
 * @param {() => Promise<T>} start
 * @param {number} [attempts]
 * @returns {Promise<T>}
 */
export async function onFreePorts(start, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (e) {
      if (e?.addressInUse !== true || attempt >= attempts) throw e;
    }
  }
}
