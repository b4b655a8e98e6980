import { Authorized, Ctx, Field, FieldResolver, Int, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { Role, RouterLifecycle, type Router } from '../../domain/entities/index.js';
import { listRouters } from '../../fleet/routers.js';
import { maskUrl } from '../../observability/logger.js';
import { ROUTER_CHECK_COST } from '../../security/query-limits.js';
import type { GraphQLContext } from '../context.js';

@ObjectType('RouterCapabilities', { simpleResolvers: true, description: 'What a router can do, as detected from what it does (or as configured).' })
export class RouterCapabilitiesInfo {
  @Field({ description: 'The image name, e.g. `1.4.0` or `2025.11.20-0020-rolling`, or `unknown`.' })
  version!: string;

  @Field({ description: 'Whether changes commit with commit-confirm (the router reverts one that is never confirmed).' })
  commitConfirm!: boolean;

  @Field({ description: 'The NAT configuration syntax: `1.3` or `1.4` (1.4 and later).' })
  syntax!: string;
}

@ObjectType('Router', { simpleResolvers: true, description: 'A VyOS router this API drives. Addresses, external ports and rule numbers are unique per router. Its API key is never shown: `credential` says where it is read from.' })
export class RouterInfo {
  @Field({ description: 'Its unique name (ROUTER_NAME for the router the environment configures).' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'The VyOS HTTP API URL (credentials masked); null for the built-in simulator.' })
  url!: string | null;

  @Field(() => String, { nullable: true, description: 'Where its API key is read from: `env:NAME` or `file:/path`. The key itself is never stored or returned.' })
  credential!: string | null;

  @Field(() => RouterLifecycle, { description: 'Whether it takes new VMs.' })
  lifecycle!: RouterLifecycle;

  @Field({ description: 'Configured by the environment (VYOS_URL, ROUTER_NAME, …): every start of a server with this ROUTER_NAME updates it from there.' })
  fromEnvironment!: boolean;

  @Field({ description: 'Whether this server process drives it now (sends its changes and checks its drift).' })
  driven!: boolean;

  @Field(() => String, { nullable: true, description: 'Its WAN interface (VYOS_WAN_INTERFACE).' })
  wanInterface!: string | null;

  @Field(() => String, { nullable: true, description: 'NAT rule numbers this API allocates on it, `first-last`.' })
  natRuleRange!: string | null;

  @Field(() => String, { nullable: true, description: 'External ports this API allocates on it, `first-last`.' })
  externalPortRange!: string | null;

  @Field(() => String, { nullable: true, description: 'LAN addresses this API hands its VMs, `first-last`.' })
  lanPool!: string | null;

  @Field({ description: 'TLS certificate checks are off (VYOS_TLS_INSECURE).' })
  tlsInsecure!: boolean;

  @Field({ description: 'When it was registered.' })
  createdAt!: Date;
}

/** A router row as the API shows it (pure): no secret in it. */
export function routerInfo(r: Router, driven: boolean): RouterInfo {
  return {
    name: r.name,
    url: r.url ? maskUrl(r.url) : null,
    credential: r.keyRef ?? null,
    lifecycle: r.lifecycle,
    fromEnvironment: r.fromEnv,
    driven,
    wanInterface: r.wanInterface ?? null,
    natRuleRange: r.natRuleRange ?? null,
    externalPortRange: r.externalPortRange ?? null,
    lanPool: r.lanPool ?? null,
    tlsInsecure: r.tlsInsecure,
    createdAt: r.createdAt,
  };
}

@Resolver(() => RouterInfo)
export class RouterResolver {
  @Authorized(Role.VIEWER)
  @Query(() => [RouterInfo], { description: 'The routers this API knows, by name. Reads the database only (`capabilities` asks the router).' })
  async routers(@Ctx() { em, app }: GraphQLContext): Promise<RouterInfo[]> {
    return (await listRouters(em)).map((r) => routerInfo(r, r.name === app.config.routerName));
  }

  @FieldResolver(() => RouterCapabilitiesInfo, { nullable: true, complexity: ROUTER_CHECK_COST, description: 'What it can do; null when this process does not drive it or it cannot be reached.' })
  async capabilities(@Root() router: RouterInfo, @Ctx() { app }: GraphQLContext): Promise<RouterCapabilitiesInfo | null> {
    if (!router.driven) return null;
    const caps = await app.router.capabilities().catch(() => null);
    return caps && { version: caps.version, commitConfirm: caps.commitConfirm, syntax: caps.syntax };
  }

  @FieldResolver(() => Int, { description: 'How many VMs live on it.' })
  async vmCount(@Root() router: RouterInfo, @Ctx() { em }: GraphQLContext): Promise<number> {
    const [row] = await em.execute<{ n: number }[]>('select count(*)::int as n from vm where router = ?', [router.name]);
    return row?.n ?? 0;
  }
}
