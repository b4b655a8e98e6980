// Lookups for automation (issue 17): rules as a filtered connection, who holds an external port,
// and Relay's node(id:) refetch of any object by its id.
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, ID, Info, Int, Query, Resolver } from 'type-graphql';
import { PortRule, Protocol, Role, claims, roleAllows } from '../../domain/entities/index.js';
import * as check from '../../domain/validation.js';
import { isUuid } from '../../changes/vm-changes.js';
import { connectionType, pageRequest, selects } from '../connection.js';
import type { GraphQLContext } from '../context.js';
import { PortRuleFilter, checkPortRuleFilter } from '../filters.js';
import { NODE_TYPE, Node } from '../node.js';
import { nodeRow, portOwnerRows, type NodeTypeName } from '../read-model.js';
import { PORT_RULE_KEYSET, portRulePage } from '../read-pages.js';
import { PortScalar } from '../scalars.js';

export const PortRuleConnection = connectionType('PortRule', PortRule);

/** What node(id:) searches, for each role: API keys only for those who may list them (apiKeys is ADMIN). */
const NODE_TYPES: readonly NodeTypeName[] = ['Vm', 'PortRule', 'RollbackEvent', 'Snapshot'];

@Resolver()
export class LookupResolver {
  @Authorized(Role.VIEWER)
  @Query(() => PortRuleConnection, { description: 'Port rules by rule number, as a Relay connection (forwards with first/after, backwards with last/before). Reads the database only.' })
  async portRules(
    @Ctx() { em }: GraphQLContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50, description: 'Page size from the start (or from `after`), 1-200; not with `last`.' }) first: number | null,
    @Arg('after', () => String, { nullable: true, description: 'Cursor from a previous page: the rules after it.' }) after?: string | null,
    @Arg('last', () => Int, { nullable: true, description: 'Page size from the end (or from `before`), 1-200.' }) last?: number | null,
    @Arg('before', () => String, { nullable: true, description: 'Cursor from a previous page: the rules before it.' }) before?: string | null,
    @Arg('filter', () => PortRuleFilter, { nullable: true, description: 'Only the rules matching every given field.' }) filter?: PortRuleFilter | null,
  ) {
    const req = pageRequest(PORT_RULE_KEYSET, { first, after, last, before }, info);
    return portRulePage(em, checkPortRuleFilter(filter), req, selects(info, 'totalCount'));
  }

  @Authorized(Role.VIEWER)
  @Query(() => [PortRule], {
    description:
      'Who holds an external port: the rules claiming `externalPort` for the transports of `protocol`. A TCP_UDP rule claims both, so asking for TCP finds a TCP or a TCP_UDP rule; asking for TCP_UDP finds up to two (a TCP and a UDP rule). Empty when the port is free for those transports.',
  })
  async portOwners(
    @Ctx() { em }: GraphQLContext,
    @Arg('externalPort', () => PortScalar, { description: 'The port on the WAN side.' }) externalPort: number,
    @Arg('protocol', () => Protocol, { defaultValue: Protocol.TCP_UDP, description: 'The transports to ask about; TCP_UDP (both) when omitted.' }) protocol: Protocol,
  ) {
    return portOwnerRows(em, check.port('externalPort', externalPort), claims(protocol));
  }

  @Authorized(Role.VIEWER)
  @Query(() => Node, {
    nullable: true,
    description: 'Any object by its id (Vm, PortRule, RollbackEvent, Snapshot; ApiKey for ADMIN keys only), or null when no object the caller may read has it.',
  })
  async node(@Ctx() { em, auth }: GraphQLContext, @Arg('id', () => ID, { description: 'The id, as any type\'s `id` field gives it.' }) id: string) {
    if (!isUuid(id)) return null;
    const types = auth && roleAllows(auth.role, Role.ADMIN) ? [...NODE_TYPES, 'ApiKey' as const] : NODE_TYPES;
    const found = await nodeRow(em, id, types);
    return found ? Object.assign(found.row, { [NODE_TYPE]: found.type }) : null;
  }
}
