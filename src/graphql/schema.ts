import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray } from 'type-graphql';
import type { AppPubSub } from '../changes/events.js';
import { auditMutationFields } from './audit.js';
import { authChecker } from './auth.js';
import { ApiKeyResolver } from './resolvers/api-key-resolver.js';
import { AuditResolver } from './resolvers/audit-resolver.js';
import { DriftResolver } from './resolvers/drift-resolver.js';
import { HealthResolver } from './resolvers/health-resolver.js';
import { LookupResolver } from './resolvers/lookup-resolver.js';
import { PortRuleResolver } from './resolvers/port-rule-resolver.js';
import { RollbackResolver } from './resolvers/rollback-resolver.js';
import { SnapshotResolver } from './resolvers/snapshot-resolver.js';
import { VmApplyResolver } from './resolvers/vm-apply-resolver.js';
import { VmResolver } from './resolvers/vm-resolver.js';
import { RouterResolver } from './resolvers/router-resolver.js';

// Feature modules add their resolvers here.
export const resolvers: NonEmptyArray<Function> = [VmResolver, PortRuleResolver, RollbackResolver, HealthResolver, DriftResolver, ApiKeyResolver, SnapshotResolver, VmApplyResolver, LookupResolver, AuditResolver, RouterResolver];

export async function createSchema(pubSub: AppPubSub): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers,
    authChecker,
    pubSub: pubSub as never,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: false,
  });
  // every root mutation field leaves an audit_event row (audit.ts)
  auditMutationFields(schema);
  return schema;
}
