import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/**
 * `Port`: a TCP/UDP port, 1-65535. Parsing accepts any integer and leaves the range check to
 * input validation, so an out-of-range port is refused with the name of its field
 * (`input.portRules[2].externalPort: must be a port between 1 and 65535`).
 */
export const PortScalar = new GraphQLScalarType<number, number>({
  name: 'Port',
  description: 'A TCP or UDP port number, 1-65535.',
  serialize(value) {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new GraphQLError(`Port cannot represent ${String(value)}`);
    return value;
  },
  parseValue(value) {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new GraphQLError(`a port must be a whole number, got ${JSON.stringify(value)}`);
    return value;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.INT) throw new GraphQLError('a port must be a whole number', { nodes: ast });
    return Number(ast.value);
  },
});
