import { ApiProperty, ApiPropertyOptional, ApiSchema, PartialType } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { oneOfMessage } from '../../common/vocabulary.js';
import { pageOf, pageQuery } from '../../common/page.dto.js';
import { CHANNEL_KINDS, CHANNEL_NAME, SMTP_SECURITY, type ChannelKind, type SmtpSecurity } from '../channel-kinds.js';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../entities/notification-delivery.entity.js';
import { NOTIFICATION_EVENT_KEYS } from '../notification-events.js';

const WRITE_ONLY = 'Write-only: stored, never returned, logged or audited.';

@ApiSchema({ name: 'BmCreateChannelDto' })
export class CreateChannelDto {
  @ApiProperty({ description: 'Unique name', example: 'ops-mail' })
  @IsString()
  @Matches(CHANNEL_NAME, { message: 'name must be 1 to 64 lower-case letters, digits, "_", "." or "-", starting with a letter or digit' })
  name!: string;

  @ApiProperty({ enum: CHANNEL_KINDS, description: '`email` (SMTP), `webhook` (generic signed JSON), or a chat preset: `slack`, `discord`, `teams`, `telegram`' })
  @IsIn(CHANNEL_KINDS, { message: oneOfMessage('kind', CHANNEL_KINDS) })
  kind!: ChannelKind;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ type: [String], enum: NOTIFICATION_EVENT_KEYS, description: 'Events this channel gets; omitted or null: the defaults (GET /notifications/events)' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(NOTIFICATION_EVENT_KEYS.length)
  @IsIn(NOTIFICATION_EVENT_KEYS, { each: true, message: `events must name known events: ${NOTIFICATION_EVENT_KEYS.join(', ')}` })
  events?: string[] | null;

  // email
  @ApiPropertyOptional({ description: 'email: SMTP server', example: 'smtp.example.com' })
  @IsOptional()
  @IsString()
  @MaxLength(253)
  host?: string;

  @ApiPropertyOptional({ description: 'email: SMTP port; default 465 with `tls`, else 587', example: 587 })
  @IsOptional()
  @IsInt({ message: 'port must be a port number (1 to 65535)' })
  @Min(1)
  @Max(65535)
  port?: number;

  @ApiPropertyOptional({ enum: SMTP_SECURITY, default: 'starttls', description: 'email: `tls` (TLS from the start, port 465), `starttls` (upgrade required), `none` (plain, trusted networks only)' })
  @IsOptional()
  @IsIn(SMTP_SECURITY, { message: oneOfMessage('security', SMTP_SECURITY) })
  security?: SmtpSecurity;

  @ApiPropertyOptional({ description: 'email: SMTP user' })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  username?: string;

  @ApiPropertyOptional({ description: `email: SMTP password. ${WRITE_ONLY}` })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  password?: string;

  @ApiPropertyOptional({ description: 'email: sender address', example: 'backups@example.com' })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  from?: string;

  @ApiPropertyOptional({ type: [String], description: 'email: recipients', example: ['ops@example.com'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(50)
  @IsString({ each: true })
  @MaxLength(254, { each: true })
  to?: string[];

  @ApiPropertyOptional({ description: "email: PEM certificate of a private CA that signed the SMTP server's certificate" })
  @IsOptional()
  @IsString()
  @MaxLength(20_000)
  caCertificate?: string;

  // webhooks
  @ApiPropertyOptional({ description: `webhook, slack, discord, teams: the receiver's URL (http or https). ${WRITE_ONLY} Responses show its origin only.`, example: 'https://hooks.slack.com/services/T000/B000/XXXX' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  url?: string;

  @ApiPropertyOptional({ description: `webhook: HMAC-SHA256 key (at least 16 characters) the receiver checks the signature with. ${WRITE_ONLY}` })
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  secret?: string;

  // telegram
  @ApiPropertyOptional({ description: `telegram: bot token from @BotFather. ${WRITE_ONLY}` })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  botToken?: string;

  @ApiPropertyOptional({ description: 'telegram: chat id (e.g. -1001234567890) or @channelname', example: '-1001234567890' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  chatId?: string;

  @ApiPropertyOptional({ description: 'telegram: bot API base URL', default: 'https://api.telegram.org' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  apiUrl?: string;
}

/** Every field optional; secrets not given stay as they are; `null` clears an optional field. */
@ApiSchema({ name: 'BmUpdateChannelDto' })
export class UpdateChannelDto extends PartialType(CreateChannelDto) {}

/** What the service takes to make or change a channel. */
export type ChannelInput = CreateChannelDto;

@ApiSchema({ name: 'BmChannelSettings' })
export class ChannelSettingsResponse {
  @ApiPropertyOptional() host?: string;
  @ApiPropertyOptional() port?: number;
  @ApiPropertyOptional({ enum: SMTP_SECURITY }) security?: string;
  @ApiPropertyOptional() username?: string;
  @ApiPropertyOptional() from?: string;
  @ApiPropertyOptional({ type: [String] }) to?: string[];
  @ApiPropertyOptional() caCertificate?: string;
  @ApiPropertyOptional() chatId?: string;
  @ApiPropertyOptional() apiUrl?: string;
  @ApiPropertyOptional({ description: "The receiver URL's origin only, e.g. `https://hooks.slack.com/…`" }) url?: string;
}

@ApiSchema({ name: 'BmChannelResponse' })
export class ChannelResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: CHANNEL_KINDS }) kind!: string;
  @ApiProperty({ enum: ['api', 'config'], description: '`config`: from NOTIFY_CHANNELS / notifications.channels, read-only here' }) source!: string;
  @ApiProperty() enabled!: boolean;
  @ApiProperty({ type: [String], description: 'The events it gets' }) events!: string[];
  @ApiProperty({ description: 'True when it names no events and gets the defaults' }) defaultEvents!: boolean;
  @ApiProperty({ type: ChannelSettingsResponse }) settings!: ChannelSettingsResponse;
  @ApiProperty({ type: [String], description: 'Which write-only fields are set (their values are never shown)', example: ['password'] }) secretsSet!: string[];
  @ApiPropertyOptional({ type: Date, nullable: true }) createdAt!: Date | null;
  @ApiPropertyOptional({ type: Date, nullable: true }) updatedAt!: Date | null;
}

@ApiSchema({ name: 'BmDeliveryAttempt' })
export class DeliveryAttemptResponse {
  @ApiProperty() attempt!: number;
  @ApiProperty() at!: string;
  @ApiProperty({ enum: ['delivered', 'failed'] }) outcome!: string;
  @ApiPropertyOptional({ description: 'HTTP status, or SMTP reply code' }) statusCode?: number;
  @ApiProperty({ description: "The receiver's answer (shortened), or why it could not be reached" }) answer!: string;
  @ApiProperty() durationMs!: number;
}

@ApiSchema({ name: 'BmDeliveryResponse' })
export class DeliveryResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() channelId!: string;
  @ApiProperty() channelName!: string;
  @ApiProperty({ enum: CHANNEL_KINDS }) channelKind!: string;
  @ApiProperty({ description: 'A notification event, or `test`' }) event!: string;
  @ApiProperty({ enum: ['alert', 'resolved', 'info', 'test'] }) state!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) target!: string | null;
  @ApiProperty() subject!: string;
  @ApiProperty({ enum: DELIVERY_STATUSES }) status!: string;
  @ApiProperty({ type: [DeliveryAttemptResponse] }) attempts!: DeliveryAttemptResponse[];
  @ApiPropertyOptional({ type: String, nullable: true, description: 'The backup or restore it is about' }) recordId!: string | null;
  @ApiPropertyOptional({ type: Date, nullable: true }) deliveredAt!: Date | null;
  @ApiProperty() createdAt!: Date;
}

@ApiSchema({ name: 'BmDeliveryPage' })
export class DeliveryPage extends pageOf(DeliveryResponse) {}

export class ListDeliveriesQuery extends pageQuery({ defaultLimit: 50, maxLimit: 200 }) {
  @ApiPropertyOptional({ description: 'Channel id' })
  @IsOptional()
  @IsString()
  @MaxLength(36)
  channel?: string;

  @ApiPropertyOptional({ description: 'Event, e.g. backup.failed, or test' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  event?: string;

  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES, { message: oneOfMessage('status', DELIVERY_STATUSES) })
  status?: DeliveryStatus;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(64)
  target?: string;
}

@ApiSchema({ name: 'BmChannelTestResponse' })
export class ChannelTestResponse {
  @ApiProperty({ description: 'Whether the receiver accepted the message' }) delivered!: boolean;
  @ApiPropertyOptional({ description: 'HTTP status or SMTP reply code' }) statusCode?: number;
  @ApiProperty({ description: "The receiver's answer (shortened), or why it could not be reached" }) answer!: string;
  @ApiProperty() durationMs!: number;
  @ApiProperty({ description: 'The delivery record of the test (GET /notifications/deliveries)' }) deliveryId!: string;
}

@ApiSchema({ name: 'BmNotificationEvent' })
export class NotificationEventResponse {
  @ApiProperty({ example: 'backup.failed' }) event!: string;
  @ApiProperty({ description: 'Whether a channel that names no events gets it' }) byDefault!: boolean;
  @ApiProperty() description!: string;
}

@ApiSchema({ name: 'BmAlertCondition' })
export class AlertConditionResponse {
  @ApiProperty({ example: 'backup.failed:app' }) key!: string;
  @ApiProperty() event!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) target!: string | null;
  @ApiProperty({ description: 'Whether it holds now' }) active!: boolean;
  @ApiProperty() firstAt!: Date;
  @ApiProperty() lastAt!: Date;
  @ApiPropertyOptional({ type: Date, nullable: true }) alertedAt!: Date | null;
  @ApiPropertyOptional({ type: Date, nullable: true }) resolvedAt!: Date | null;
  @ApiProperty({ description: 'Occurrences since it started holding' }) occurrences!: number;
  @ApiProperty({ description: 'Occurrences inside the de-duplication window that sent nothing' }) suppressed!: number;
  @ApiPropertyOptional({ type: String, nullable: true }) summary!: string | null;
}
