import { Arg, Authorized, Ctx, Field, FieldResolver, InputType, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { Role, RouterLifecycle, type Router } from '../../domain/entities/index.js';
import { badInput } from '../../domain/errors.js';
import { readKey } from '../../fleet/router-config.js';
import { listRouters, registerRouter, retireRouter, routerNameArg, updateRouter, validateRouterName, validateRouterSpec, type RouterSpec } from '../../fleet/routers.js';
import { checkOneRouter, RouterHealth } from '../../observability/health.js';
import { maskUrl } from '../../observability/logger.js';
import { CHANGE_COST, ROUTER_CHECK_COST } from '../../security/query-limits.js';
import type { GraphQLContext } from '../context.js';

/** The `router` argument's description on the per-router operations. */
export const ROUTER_ARG = 'The router (`routers`); omitted: the one the environment configures (ROUTER_NAME).';

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

const FIELDS = {
  url: 'The VyOS HTTP API URL, e.g. https://10.0.0.1 (no credentials in it).',
  credential: 'Where every replica reads its API key: `env:NAME` (an environment variable) or `file:/absolute/path`. Never the key itself: the database holds only this reference.',
  tlsInsecure: 'Skip TLS certificate checks (a self-signed router certificate; prefer `caFile`).',
  caFile: 'A CA bundle (absolute path on every replica) the router\'s certificate is checked against.',
  wanInterface: 'Its WAN interface (the rules\' `inbound-interface`); omitted: VYOS_WAN_INTERFACE.',
  syntax: 'NAT syntax: `auto` (detected), `1.3` or `1.4`.',
  commitConfirm: 'Commit-confirm: `auto` (probed), `on` or `off`.',
  natRuleRange: 'NAT rule numbers this API allocates on it, `first-last`; omitted: NAT_RULE_RANGE.',
  externalPortRange: 'External ports this API allocates on it, `first-last`; omitted: EXTERNAL_PORT_RANGE.',
  lanPool: 'LAN addresses this API hands its VMs, `first-last`; omitted: LAN_POOL.',
};

// The settings both inputs share (type-graphql copies a base class's fields into each subclass).
@InputType('RouterSettingsInput', { description: 'Settings of a router (registerRouter, updateRouter).' })
abstract class RouterSettingsInput {
  @Field(() => Boolean, { nullable: true, description: FIELDS.tlsInsecure })
  tlsInsecure?: boolean | null;

  @Field(() => String, { nullable: true, description: FIELDS.caFile })
  caFile?: string | null;

  @Field(() => String, { nullable: true, description: FIELDS.wanInterface })
  wanInterface?: string | null;

  @Field(() => String, { nullable: true, description: FIELDS.syntax })
  syntax?: string | null;

  @Field(() => String, { nullable: true, description: FIELDS.commitConfirm })
  commitConfirm?: string | null;

  @Field(() => String, { nullable: true, description: FIELDS.natRuleRange })
  natRuleRange?: string | null;

  @Field(() => String, { nullable: true, description: FIELDS.externalPortRange })
  externalPortRange?: string | null;

  @Field(() => String, { nullable: true, description: FIELDS.lanPool })
  lanPool?: string | null;
}

@InputType({ description: 'A router to register. Ranges may overlap other routers\' (each router is its own network).' })
export class RegisterRouterInput extends RouterSettingsInput {
  @Field({ description: 'Its unique name: lower-case letters, digits, hyphens (it labels metrics, locks and logs).' })
  name!: string;

  @Field({ description: FIELDS.url })
  url!: string;

  @Field({ description: FIELDS.credential })
  credential!: string;
}

@InputType({ description: 'Fields of a router to change; omitted fields stay. A router the environment configures changes only its lifecycle; a range must still hold every value its rules and VMs use.' })
export class UpdateRouterInput extends RouterSettingsInput {
  @Field(() => String, { nullable: true, description: FIELDS.url })
  url?: string | null;

  @Field(() => String, { nullable: true, description: FIELDS.credential })
  credential?: string | null;

  @Field(() => RouterLifecycle, { nullable: true, description: 'DRAINING: keeps serving its VMs, placement gives it no new ones; ENABLED: takes new VMs again.' })
  lifecycle?: RouterLifecycle | null;
}

/** The input as the spec's field names (credential is stored as keyRef); null for a required field is refused. */
function specOf(input: RegisterRouterInput | UpdateRouterInput): Partial<RouterSpec> {
  const { credential, ...rest } = input as Record<string, unknown>;
  for (const k of ['url', 'credential', 'tlsInsecure', 'syntax', 'commitConfirm', 'lifecycle']) {
    if ((input as Record<string, unknown>)[k] === null) throw badInput(`input.${k}`, 'cannot be null (omit it to keep the current value)');
  }
  const spec = validateRouterSpec({ ...rest, ...(credential !== undefined ? { keyRef: credential } : {}) } as Partial<Record<keyof RouterSpec, unknown>>);
  // The key must be readable here and now: a reference this replica cannot read is a typo.
  if (spec.keyRef) {
    try {
      readKey(spec.keyRef);
    } catch (e) {
      throw badInput('input.credential', `${(e as Error).message} on this server (every replica needs it)`);
    }
  }
  return spec;
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
  @Query(() => [RouterInfo], { description: 'The routers this API knows, by name. Reads the database only (`capabilities` asks the router; `health` has each router\'s state).' })
  async routers(@Ctx() { em, app }: GraphQLContext): Promise<RouterInfo[]> {
    const driven = new Set(app.fleet.units().map((u) => u.name));
    return (await listRouters(em)).map((r) => routerInfo(r, driven.has(r.name)));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => RouterInfo, { complexity: CHANGE_COST, description: 'Registers a router: every replica drives it within seconds (its own transaction domain, drift job and metrics), and placement may put new VMs on it. Nothing is sent to it yet.' })
  async registerRouter(@Ctx() { em, app }: GraphQLContext, @Arg('input', () => RegisterRouterInput, { description: 'The router.' }) input: RegisterRouterInput): Promise<RouterInfo> {
    const name = validateRouterName('input.name', input.name);
    const { name: _name, ...fields } = input;
    const spec = specOf(fields as RegisterRouterInput);
    const row = await registerRouter(em.fork(), name, { ...spec, url: spec.url!, keyRef: spec.keyRef! });
    await app.fleet.refresh();
    return routerInfo(row, app.fleet.units().some((u) => u.name === name));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => RouterInfo, { complexity: CHANGE_COST, description: 'Changes a router\'s settings (its unit restarts with them once its running batches finished) or its lifecycle.' })
  async updateRouter(
    @Ctx() { em, app }: GraphQLContext,
    @Arg('name', { description: 'The router.' }) name: string,
    @Arg('input', () => UpdateRouterInput, { description: 'The fields to change.' }) input: UpdateRouterInput,
  ): Promise<RouterInfo> {
    routerNameArg('name', name);
    const spec = specOf(input);
    if (Object.keys(spec).length === 0) throw badInput('input', 'name at least one field to change');
    const row = await updateRouter(em.fork(), name, spec);
    await app.fleet.refresh();
    return routerInfo(row, app.fleet.units().some((u) => u.name === name));
  }

  @Authorized(Role.ADMIN)
  @Mutation(() => String, { complexity: CHANGE_COST, description: 'Forgets a registered router no VM lives on (its journal, snapshots and rollback events stay as history); returns its name. Nothing is sent to it.' })
  async retireRouter(@Ctx() { em, app }: GraphQLContext, @Arg('name', { description: 'The router.' }) name: string): Promise<string> {
    await retireRouter(em.fork(), routerNameArg('name', name));
    await app.fleet.refresh();
    return name;
  }

  @FieldResolver(() => RouterCapabilitiesInfo, { nullable: true, complexity: ROUTER_CHECK_COST, description: 'What it can do; null when this process does not drive it or it cannot be reached.' })
  async capabilities(@Root() router: RouterInfo, @Ctx() { app }: GraphQLContext): Promise<RouterCapabilitiesInfo | null> {
    const unit = app.fleet.units().find((u) => u.name === router.name);
    const caps = unit ? await unit.client.capabilities().catch(() => null) : null;
    return caps && { version: caps.version, commitConfirm: caps.commitConfirm, syntax: caps.syntax };
  }

  @FieldResolver(() => RouterHealth, { nullable: true, complexity: ROUTER_CHECK_COST, description: 'Its API, drift job, firewall and pools, as `health` reports them; null when this server does not drive it.' })
  async health(@Root() router: RouterInfo, @Ctx() { app }: GraphQLContext): Promise<RouterHealth | null> {
    const unit = app.fleet.units().find((u) => u.name === router.name);
    return unit ? checkOneRouter(unit.health()) : null;
  }

  @FieldResolver(() => Int, { description: 'How many VMs live on it.' })
  async vmCount(@Root() router: RouterInfo, @Ctx() { em }: GraphQLContext): Promise<number> {
    const [row] = await em.execute<{ n: number }[]>('select count(*)::int as n from vm where router = ?', [router.name]);
    return row?.n ?? 0;
  }
}
