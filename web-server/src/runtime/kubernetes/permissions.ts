/**
 * What Caisson does in its namespace. The runtime checks each with a SelfSubjectAccessReview at
 * start-up and names the missing ones; charts/caisson's Role grants exactly these.
 */

export interface RequiredPermission {
  /** API group ('' for core/v1). */
  group: string;
  resource: string;
  verbs: readonly string[];
  /** Only needed in this ingress mode. */
  onlyFor?: 'mapping';
}

export const REQUIRED_PERMISSIONS: readonly RequiredPermission[] = [
  { group: '', resource: 'pods', verbs: ['create', 'get', 'list', 'watch', 'delete'] },
  { group: '', resource: 'services', verbs: ['create', 'get', 'list', 'patch', 'delete'] },
  { group: '', resource: 'secrets', verbs: ['create', 'get', 'list', 'patch', 'delete'] },
  { group: 'getambassador.io', resource: 'mappings', verbs: ['create', 'get', 'list', 'patch', 'delete'], onlyFor: 'mapping' },
];
