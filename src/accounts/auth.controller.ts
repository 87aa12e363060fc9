import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentActor } from '../auth/actor.decorator.js';
import { AuthFailureLimiter, tooMany } from '../auth/auth-failure-limiter.js';
import { PublicRoute, sameOrigin, type AuthedRequest } from '../auth/auth.guard.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { ApiErrors, BODY_ERRORS } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';
import { DomainError } from '../common/errors.js';
import { httpError } from '../common/http-errors.js';
import { LibraryController } from '../common/library-controller.decorator.js';
import { AccountsService } from './accounts.service.js';
import { clearSessionCookies, setSessionCookies } from './cookies.js';
import { ApiTokenResponse, CreateApiTokenDto, CreatedApiTokenResponse, ListApiTokensQuery, LoginDto, LoginResponse, MeResponse } from './dto/accounts.dto.js';

/** Logins (password → session cookie or bearer token), logout, and the caller's API tokens. */
@LibraryController('auth', { forbidden: 'API tokens are managed from a login session, not with an API token' })
@Controller('auth')
export class AuthController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly limiter: AuthFailureLimiter,
  ) {}

  @Post('login')
  @PublicRoute()
  @HttpCode(200)
  @ApiBody({ type: LoginDto, examples: { dashboard: { summary: 'Session cookie (the dashboard)', value: { username: 'alice', password: 'correct-horse-battery-staple' } }, script: { summary: 'Bearer token (scripts)', value: { username: 'alice', password: 'correct-horse-battery-staple', tokenType: 'bearer' } } } })
  @ApiErrors([...BODY_ERRORS, ErrorCode.Unauthorized, ErrorCode.AccountLocked, ErrorCode.TooManyFailures, ErrorCode.CsrfRejected])
  @ApiOperation({
    summary:
      'Log in with a password. Starts a session whose short-lived JWT is set as an httpOnly SameSite=Strict cookie (with a CSRF token, bm_csrf, to echo in X-CSRF-Token), or returned for a bearer header. ' +
      'Wrong passwords lock the account for a while (LOGIN_MAX_FAILURES, LOGIN_LOCKOUT_SECONDS); every attempt is audited',
  })
  @ApiOkResponse({ type: LoginResponse })
  async login(@Body() dto: LoginDto, @Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<LoginResponse> {
    (req as AuthedRequest & { auditedElsewhere?: boolean }).auditedElsewhere = true;
    if (req.headers.origin && !sameOrigin(req.headers.origin, req)) throw httpError(ErrorCode.CsrfRejected, 'A login may only come from this service\'s own pages');
    const ip = req.ip ?? req.socket?.remoteAddress ?? 'unknown';
    const wait = this.limiter.authentication.retryAfterMs(ip);
    if (wait > 0) throw tooMany(res, wait, 'Too many failed logins from this client');
    let r;
    try {
      r = await this.accounts.login(dto.username, dto.password, req.ip);
    } catch (err) {
      if (err instanceof DomainError && err.code === ErrorCode.Unauthorized) this.limiter.authentication.fail(ip);
      throw err;
    }
    const body: LoginResponse = { user: r.user, expiresAt: r.expiresAt, sessionEndsAt: r.sessionEndsAt };
    if (dto.tokenType === 'bearer') return { ...body, token: r.token };
    setSessionCookies(req, res, r.token, r.csrf, (r.expiresAt.getTime() - Date.now()) / 1000);
    res.setHeader('Cache-Control', 'no-store');
    return { ...body, csrfToken: r.csrf };
  }

  @Post('logout')
  @MinRole(Role.Viewer)
  @HttpCode(204)
  @ApiOperation({ summary: 'End the login session of this request (cookie or session bearer token) and clear the cookies' })
  @ApiNoContentResponse({ description: 'Logged out; the session token no longer works' })
  async logout(@Req() req: AuthedRequest, @Res({ passthrough: true }) res: Response, @CurrentActor() actor: Actor): Promise<void> {
    if (req.sessionId) await this.accounts.logout(req.sessionId, actor);
    clearSessionCookies(req, res);
  }

  @Get('me')
  @ApiOperation({ summary: 'Who this request authenticates as, and how' })
  @ApiOkResponse({ type: MeResponse })
  me(@Req() req: AuthedRequest, @CurrentActor() actor: Actor): MeResponse {
    return { username: actor.sub, name: actor.name, role: actor.role, authKind: req.authKind ?? 'jwt' };
  }

  @Get('tokens')
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.UserNotFound])
  @ApiOperation({ summary: 'Your API tokens (admins: everyone\'s with all=true), newest first; never the tokens themselves' })
  @ApiOkResponse({ type: [ApiTokenResponse] })
  async tokens(@Req() req: AuthedRequest, @Query() q: ListApiTokensQuery, @CurrentActor() actor: Actor): Promise<ApiTokenResponse[]> {
    this.requireSession(req);
    return this.accounts.listTokens(actor, q.all === 'true');
  }

  @Post('tokens')
  @MinRole(Role.Viewer)
  @ApiBody({ type: CreateApiTokenDto, examples: { script: { summary: 'A read-only token for a monitoring script, for 90 days', value: { name: 'monitoring', role: Role.Viewer, expiresInDays: 90 } } } })
  @ApiErrors([...BODY_ERRORS, ErrorCode.UserNotFound])
  @ApiOperation({ summary: 'Create an API token for scripts, with at most your role. The token is in this response only: store it now' })
  @ApiCreatedResponse({ type: CreatedApiTokenResponse })
  async createToken(@Req() req: AuthedRequest, @Body() dto: CreateApiTokenDto, @CurrentActor() actor: Actor, @Res({ passthrough: true }) res: Response): Promise<CreatedApiTokenResponse> {
    this.requireSession(req);
    const { token, view } = await this.accounts.createToken(actor, dto.name, dto.role, dto.expiresInDays);
    res.setHeader('Cache-Control', 'no-store');
    return { ...view, token };
  }

  @Delete('tokens/:id')
  @MinRole(Role.Viewer)
  @ApiErrors([ErrorCode.ValidationFailed, ErrorCode.ApiTokenNotFound])
  @ApiOperation({ summary: 'Revoke an API token (yours; admins: anyone\'s). It stops working at once' })
  @ApiOkResponse({ type: ApiTokenResponse })
  async revokeToken(@Req() req: AuthedRequest, @Param('id', new ParseUUIDPipe({ exceptionFactory: () => httpError(ErrorCode.ValidationFailed, 'id must be a UUID') })) id: string, @CurrentActor() actor: Actor): Promise<ApiTokenResponse> {
    this.requireSession(req);
    return this.accounts.revokeToken(actor, id);
  }

  /** API tokens are managed by their owner, never with another API token. */
  private requireSession(req: AuthedRequest): void {
    if (req.authKind === 'api-token') throw httpError(ErrorCode.Forbidden, 'API tokens are managed from a login session (the dashboard, or a bearer token from POST /auth/login), not with an API token');
  }
}
