import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsEnum, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { Role } from '../../auth/roles.js';

@ApiSchema({ name: 'BmLoginDto' })
export class LoginDto {
  @ApiProperty({ example: 'alice' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  username!: string;

  @ApiProperty({ example: 'correct horse battery staple', format: 'password' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  password!: string;

  @ApiPropertyOptional({
    enum: ['cookie', 'bearer'],
    default: 'cookie',
    description: '`cookie`: the session goes into an httpOnly SameSite=Strict cookie (the dashboard); `bearer`: the session token is returned for an Authorization header (scripts)',
  })
  @IsOptional()
  @IsIn(['cookie', 'bearer'], { message: 'tokenType must be cookie or bearer' })
  tokenType?: 'cookie' | 'bearer';
}

@ApiSchema({ name: 'BmUser' })
export class UserResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ example: 'alice' }) username!: string;
  @ApiProperty({ enum: Role }) role!: Role;
  @ApiProperty() disabled!: boolean;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lockedUntil!: Date | null;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastLoginAt!: Date | null;
  @ApiProperty() createdAt!: Date;
}

@ApiSchema({ name: 'BmLoginResponse' })
export class LoginResponse {
  @ApiProperty({ type: UserResponse }) user!: UserResponse;
  @ApiProperty({ description: 'When the session token expires; the dashboard renews it while in use, up to sessionEndsAt' }) expiresAt!: Date;
  @ApiProperty({ description: 'When the login ends, however active' }) sessionEndsAt!: Date;
  @ApiPropertyOptional({ description: 'tokenType cookie: the CSRF token to send in X-CSRF-Token with every change (also in the bm_csrf cookie)' }) csrfToken?: string;
  @ApiPropertyOptional({ description: 'tokenType bearer: the session token, for Authorization: Bearer' }) token?: string;
}

@ApiSchema({ name: 'BmMe' })
export class MeResponse {
  @ApiProperty({ example: 'alice' }) username!: string;
  @ApiPropertyOptional({ example: 'alice' }) name?: string;
  @ApiProperty({ enum: Role }) role!: Role;
  @ApiProperty({ enum: ['jwt', 'session', 'api-token'], description: 'How this request authenticated' }) authKind!: string;
}

@ApiSchema({ name: 'BmCreateApiTokenDto' })
export class CreateApiTokenDto {
  @ApiProperty({ example: 'nightly-export', description: 'What the token is for (1 to 64 characters)' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  @Matches(/^[^\u0000-\u001f]+$/, { message: 'name may not hold control characters' })
  name!: string;

  @ApiPropertyOptional({ enum: Role, description: 'At most your own role; default your own role' })
  @IsOptional()
  @IsEnum(Role, { message: `role must be one of: ${Object.values(Role).join(', ')}` })
  role?: Role;

  @ApiPropertyOptional({ minimum: 1, maximum: 3650, description: 'Days until it expires; none: it lasts until revoked' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'expiresInDays must be a whole number' })
  @Min(1)
  @Max(3650)
  expiresInDays?: number;
}

@ApiSchema({ name: 'BmApiToken' })
export class ApiTokenResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'Username of its owner' }) owner!: string;
  @ApiProperty({ example: 'bmt_Zx3kQ9aa', description: 'The first characters of the token, to recognise it' }) prefix!: string;
  @ApiProperty({ enum: Role }) role!: Role;
  @ApiProperty() createdAt!: Date;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) expiresAt!: Date | null;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) lastUsedAt!: Date | null;
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true }) revokedAt!: Date | null;
}

@ApiSchema({ name: 'BmCreatedApiToken' })
export class CreatedApiTokenResponse extends ApiTokenResponse {
  @ApiProperty({ description: 'The token, shown this once: only its hash is kept. Send it as Authorization: Bearer <token>' }) token!: string;
}

export class ListApiTokensQuery {
  @ApiPropertyOptional({ description: 'Admins: every user\'s tokens' })
  @IsOptional()
  @Type(() => String)
  @IsIn(['true', 'false'], { message: 'all must be true or false' })
  all?: string;
}
