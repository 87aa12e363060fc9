import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export enum Role {
  Viewer = 'viewer',
  Operator = 'operator',
  Admin = 'admin',
}

const RANK: Record<Role, number> = { [Role.Viewer]: 1, [Role.Operator]: 2, [Role.Admin]: 3 };

export const ROLES_KEY = 'backup-manager:min-role';

/** OpenAPI extension naming a route's least role, so clients and the security suite can read it. */
export const MIN_ROLE_EXTENSION = 'x-min-role';

/**
 * The least role a route needs; higher roles pass too. Routes without it need `viewer`.
 * Also documents the role in OpenAPI as `x-min-role`.
 */
export const MinRole = (role: Role) => applyDecorators(SetMetadata(ROLES_KEY, role), ApiExtension(MIN_ROLE_EXTENSION, role));

export function roleAllows(actual: Role, needed: Role): boolean {
  return RANK[actual] >= RANK[needed];
}

/** Who made a request, as the audit trail and records show it. */
export interface Actor {
  sub: string;
  name?: string;
  role: Role;
}
