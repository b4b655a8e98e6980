import { Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { Role } from '../../domain/entities/index.js';
import { Health, checkHealth } from '../../observability/health.js';
import type { GraphQLContext } from '../context.js';
import { ROUTER_CHECK_COST } from '../../security/query-limits.js';

@Resolver()
export class HealthResolver {
  @Authorized(Role.VIEWER)
  @Query(() => Health, { complexity: ROUTER_CHECK_COST, description: 'The same report as GET /health.' })
  async health(@Ctx() { app }: GraphQLContext): Promise<Health> {
    return checkHealth(app.health);
  }
}
