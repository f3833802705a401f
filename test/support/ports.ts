/**
 * Typed access to `scripts/ports.mjs`: starting servers on ports found free, again on new ports
 * when another process took one before the server bound it.
 */

interface PortsScript {
  ADDRESS_IN_USE: RegExp;
  onFreePorts<T>(start: () => Promise<T>, attempts?: number): Promise<T>;
}

// A URL specifier keeps TypeScript from looking for declarations of the .mjs module.
const script = (await import(
  new URL('../../scripts/ports.mjs', import.meta.url).href
)) as PortsScript;

/** What a server that could not bind one of its ports prints. */
export const ADDRESS_IN_USE: RegExp = script.ADDRESS_IN_USE;

/** Runs `start()` again while it throws an error with `addressInUse: true`, three times in all. */
export const onFreePorts = <T>(start: () => Promise<T>, attempts?: number): Promise<T> =>
  script.onFreePorts(start, attempts);
