/**
 * @kubernetes/client-node, loaded when the Kubernetes runtime starts: it is thousands of generated
 * modules (about 100 MiB of a server's resident memory), which a solo server never needs. Our own
 * modules are imported statically as usual; only the library is loaded on demand, once.
 */
import type * as K8s from '@kubernetes/client-node';

export type ClientLib = typeof K8s;

let lib: ClientLib | undefined;

export async function loadClientLib(): Promise<ClientLib> {
  lib ??= await import('@kubernetes/client-node');
  return lib;
}

/** The library after loadClientLib(); the runtime's code runs only after its start. */
export function clientLib(): ClientLib {
  if (!lib) throw new Error('@kubernetes/client-node has not been loaded: start the Kubernetes runtime first');
  return lib;
}
