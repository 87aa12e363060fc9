import { ApiToken } from './api-token.entity.js';
import { Session } from './session.entity.js';
import { User } from './user.entity.js';

/** This module's catalog entities (added to the catalog DataSource). */
export const ACCOUNT_ENTITIES: Function[] = [User, Session, ApiToken];
