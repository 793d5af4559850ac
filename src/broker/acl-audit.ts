// Counting and logging of ACL denials, shared by the publish and subscribe hooks: one counter by
// action and reason, one log line per subject per interval.
import type { Client } from 'aedes';
import { identityOf } from './acl.ts';
import type { ThrottledAuthLog } from './auth-log.ts';
import type { AclAction, AclReason, AuthMetrics } from './auth-metrics.ts';

export type AclDenial = (action: AclAction, client: Client, topic: string, reason: AclReason) => void;

export function createAclAudit(metrics: Pick<AuthMetrics, 'aclDenials'>, auditLog: ThrottledAuthLog): AclDenial {
  return (action, client, topic, reason) => {
    metrics.aclDenials.inc({ action, reason });
    const identity = identityOf(client);
    const subject = identity ? `${identity.role}:${identity.id}` : `client:${client.id}`;
    auditLog.info(subject, { action, reason, topic, clientId: client.id, role: identity?.role, identity: identity?.id }, `${action} refused`);
  };
}
