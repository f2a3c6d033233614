// The fault proxy lives with the demo (which freezes its own connections with it); tests use the same one.
export { startFaultProxy } from '../../demo/fault-proxy.js';
export type { FaultMode, FaultProxy } from '../../demo/fault-proxy.js';
