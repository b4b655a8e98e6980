// Key management (ADMIN): create (the secret is returned once), list (never a secret), revoke.
import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { generateKey } from '../../domain/api-key-secret.js';
import { ApiKey, Role } from '../../domain/entities/index.js';
import { badInput, conflict, notFound } from '../../domain/errors.js';
import { auditInTransaction, type AuditDraft } from '../../changes/audit-trail.js';
import { claimFor, findEarlier, idempotencyKey, recordClaim } from '../../changes/idempotency.js';
import { isUuid } from '../../changes/vm-changes.js';
import type { GraphQLContext } from '../context.js';
import { CHANGE_COST } from '../../security/query-limits.js';

@ObjectType({ simpleResolvers: true, description: 'A new API key and its secret. The secret is shown here once and never again: store it now.' })
export class CreatedApiKey {
  @Field(() => ApiKey, { description: 'The stored key (without the secret).' })
  apiKey!: ApiKey;

  @Field({ description: 'The whole key, for `Authorization: Bearer <secret>`. Only its hash is stored.' })
  secret!: string;
}

const NAME = /^[\p{L}\p{N}\p{P}\p{S} ]{1,100}$/u;
/** the same ceiling as RATE_LIMIT_*_PER_MINUTE */
const MAX_PER_MINUTE = 1_000_000;

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized(Role.ADMIN)
  @Query(() => [ApiKey], { description: 'Every API key, newest first, including revoked and expired ones; never a secret.' })
  async apiKeys(@Ctx() { em }: GraphQLContext): Promise<ApiKey[]> {
    return em.find(ApiKey, {}, { orderBy: { createdAt: 'desc', id: 'asc' } });
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => CreatedApiKey, { complexity: CHANGE_COST, description: 'Creates an API key. The secret is in the reply only; rotate by creating a new key, switching clients, then revoking the old one.' })
  async createApiKey(
    @Ctx() { em, app }: GraphQLContext,
    @Arg('name', { description: 'What the key is for, e.g. "ci-deploy"; 1-100 printable characters.' }) name: string,
    @Arg('role', () => Role, { description: 'What the key may do.' }) role: Role,
    @Arg('expiresAt', () => Date, { nullable: true, description: 'When the key stops working; must be in the future. Omit for no expiry.' }) expiresAt?: Date | null,
    @Arg('writesPerMinute', () => Int, { nullable: true, description: `This key's write budget in cost units a minute (a mutation is one unit), shared by every replica; 0 = no limit. Omit for the server's RATE_LIMIT_WRITES_PER_MINUTE.` })
    writesPerMinute?: number | null,
    @Arg('readsPerMinute', () => Int, { nullable: true, description: `This key's read budget in cost units a minute (an ordinary query is one unit, syncReport ten), shared by every replica; 0 = no limit. Omit for the server's RATE_LIMIT_READS_PER_MINUTE.` })
    readsPerMinute?: number | null,
    @Arg('idempotencyKey', () => String, {
      nullable: true,
      description:
        'Retrying with the same key and input returns the same API key, with a NEW secret (only hashes are stored; the one in the lost reply stops working); another input with it is a CONFLICT (docs/api-reference.md "Idempotency").',
    })
    key?: string | null,
  ): Promise<CreatedApiKey> {
    const trimmed = name.trim();
    if (!NAME.test(trimmed)) throw badInput('name', 'must be 1-100 printable characters');
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw badInput('expiresAt', 'must be in the future');
    for (const [field, value] of [['writesPerMinute', writesPerMinute], ['readsPerMinute', readsPerMinute]] as const) {
      if (value != null && (value < 0 || value > MAX_PER_MINUTE)) throw badInput(field, `must be between 0 (no limit) and ${MAX_PER_MINUTE}`);
    }
    const claim = claimFor(idempotencyKey('idempotencyKey', key), 'createApiKey', { name: trimmed, role, expiresAt: expiresAt?.toISOString() ?? null, writesPerMinute: writesPerMinute ?? null, readsPerMinute: readsPerMinute ?? null });
    const retention = app.config.idempotencyRetentionMs;
    // The key row and the audit row commit with the API key (its primary key stops a concurrent twin).
    let audit: AuditDraft | undefined;
    const created = await em.transactional(async (tx) => {
      const k = generateKey();
      const earlier = claim ? await findEarlier(tx, claim, retention) : null;
      if (earlier) {
        const apiKey = await tx.findOne(ApiKey, { id: earlier.resultRef });
        if (!apiKey || apiKey.revokedAt) throw conflict(`idempotencyKey "${claim!.key}" created an API key that has been revoked since; use a new key`, { field: 'idempotencyKey', idempotencyKey: claim!.key });
        // The first secret was only ever in the reply that was lost: issue the key a new one.
        apiKey.prefix = k.prefix;
        apiKey.secretHash = k.hash;
        await tx.flush();
        audit = await auditInTransaction(tx, { apiKey });
        return { apiKey, secret: k.key };
      }
      const apiKey = tx.create(ApiKey, {
        name: trimmed,
        role,
        prefix: k.prefix,
        secretHash: k.hash,
        expiresAt: expiresAt ?? null,
        writesPerMinute: writesPerMinute ?? null,
        readsPerMinute: readsPerMinute ?? null,
      });
      await tx.flush();
      if (claim) await recordClaim(tx, claim, retention, apiKey.id, null);
      audit = await auditInTransaction(tx, { apiKey });
      return { apiKey, secret: k.key };
    });
    if (audit) audit.written = true;
    return created;
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => ApiKey, { complexity: CHANGE_COST,
    description: 'Revokes a key: it is refused from the next request on (and on its open WebSockets at the next subscribe). Revoking a revoked key changes nothing. The last active ADMIN key cannot be revoked.',
  })
  async revokeApiKey(@Ctx() { em }: GraphQLContext, @Arg('id', () => ID, { description: 'The key to revoke (its id, not its secret).' }) id: string): Promise<ApiKey> {
    const key = isUuid(id) ? await em.findOne(ApiKey, { id }) : null;
    if (!key) throw notFound('API key', id);
    if (key.revokedAt) return key;
    if (key.role === Role.ADMIN) {
      const otherAdmins = await em.count(ApiKey, {
        id: { $ne: key.id },
        role: Role.ADMIN,
        revokedAt: null,
        $or: [{ expiresAt: null }, { expiresAt: { $gt: new Date() } }],
      });
      // Revoking the last way in would need database surgery (or a restart with ADMIN_API_KEY) to undo.
      if (otherAdmins === 0) throw conflict('this is the last active ADMIN key: create another ADMIN key first', { id });
    }
    key.revokedAt = new Date();
    // the audit row commits with the revocation
    let audit: AuditDraft | undefined;
    await em.begin();
    try {
      await em.flush();
      audit = await auditInTransaction(em, key);
      await em.commit();
    } catch (e) {
      await em.rollback();
      throw e;
    }
    if (audit) audit.written = true;
    return key;
  }
}
