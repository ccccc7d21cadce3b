/** The image-management side of audit_log: the shared audit store under the names this module uses. */
export {
  appendAudit as appendImageAudit,
  listAudit as listImageAudit,
  type AuditEntry as ImageAuditEntry,
} from '../../common/db/audit-store.js';
