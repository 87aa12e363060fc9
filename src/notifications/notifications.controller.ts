import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentActor } from '../auth/actor.decorator.js';
import { MinRole, Role, type Actor } from '../auth/roles.js';
import { ApiErrors, BODY_ERRORS } from '../common/api-errors.decorator.js';
import { ErrorCode } from '../common/error-codes.js';
import { LibraryController, ROLE_TOO_LOW } from '../common/library-controller.decorator.js';
import { AlertsService } from './alerts.service.js';
import { ChannelEvents, ChannelsService } from './channels.service.js';
import { DeliveriesService } from './deliveries.service.js';
import {
  AlertConditionResponse,
  ChannelResponse,
  ChannelTestResponse,
  CreateChannelDto,
  DeliveryPage,
  ListDeliveriesQuery,
  NotificationEventResponse,
  UpdateChannelDto,
} from './dto/notifications.dto.js';
import { testNotice } from './messages.js';
import { NOTIFICATION_EVENT_KEYS, NOTIFICATION_EVENTS } from './notification-events.js';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Inject } from '@nestjs/common';
import { APP_EVENTS } from '../common/app-events.js';

const CHANNEL_ERRORS = [ErrorCode.ValidationFailed, ErrorCode.ChannelNotFound, ErrorCode.AmbiguousId];

/** Channels (admin), what was delivered (operator), the events and the conditions that hold. */
@LibraryController('notifications', { forbidden: ROLE_TOO_LOW })
@Controller('notifications')
export class NotificationsController {
  constructor(
    private readonly channels: ChannelsService,
    private readonly deliveries: DeliveriesService,
    private readonly alerts: AlertsService,
    @Inject(APP_EVENTS) private readonly events: EventEmitter2,
  ) {}

  @Get('events')
  @ApiOperation({ summary: 'The events a channel can subscribe to, and which it gets by default' })
  @ApiOkResponse({ type: [NotificationEventResponse] })
  listEvents(): NotificationEventResponse[] {
    return NOTIFICATION_EVENT_KEYS.map((event) => ({ event, byDefault: NOTIFICATION_EVENTS[event].byDefault, description: NOTIFICATION_EVENTS[event].description }));
  }

  @Get('channels')
  @MinRole(Role.Admin)
  @ApiOperation({ summary: 'Every channel, configured and made through the API; secrets are never shown' })
  @ApiOkResponse({ type: [ChannelResponse] })
  async list() {
    return (await this.channels.all()).map((c) => this.channels.view(c));
  }

  @Get('channels/:id')
  @MinRole(Role.Admin)
  @ApiErrors(CHANNEL_ERRORS)
  @ApiOperation({ summary: 'One channel' })
  @ApiOkResponse({ type: ChannelResponse })
  async get(@Param('id') id: string) {
    return this.channels.view(await this.channels.get(id));
  }

  @Post('channels')
  @MinRole(Role.Admin)
  @ApiBody({
    type: CreateChannelDto,
    examples: {
      email: {
        summary: 'E-mail through an SMTP server with STARTTLS',
        value: { name: 'ops-mail', kind: 'email', host: 'smtp.example.com', port: 587, security: 'starttls', username: 'backups', password: '…', from: 'backups@example.com', to: ['ops@example.com'] },
      },
      webhook: { summary: 'Signed JSON webhook', value: { name: 'pager', kind: 'webhook', url: 'https://hooks.example.com/backup-manager', secret: 'a-long-shared-key-for-hmac' } },
      slack: { summary: 'Slack incoming webhook, failures only', value: { name: 'slack-ops', kind: 'slack', url: 'https://hooks.slack.com/services/T000/B000/XXXX', events: ['backup.failed', 'target.stale'] } },
      telegram: { summary: 'Telegram bot', value: { name: 'tg', kind: 'telegram', botToken: '123456789:AAE-example-token-from-BotFather_x', chatId: '-1001234567890' } },
    },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.ChannelNameTaken])
  @ApiOperation({ summary: 'Create a channel; write-only fields (password, url, secret, botToken) are never returned' })
  @ApiCreatedResponse({ type: ChannelResponse })
  async create(@Body() dto: CreateChannelDto, @CurrentActor() actor: Actor) {
    return this.channels.view(await this.channels.create(dto, actor));
  }

  @Patch('channels/:id')
  @MinRole(Role.Admin)
  @ApiBody({
    type: UpdateChannelDto,
    examples: {
      events: { summary: 'Only failures and stale targets', value: { events: ['backup.failed', 'target.stale'] } },
      pause: { summary: 'Stop sending for now', value: { enabled: false } },
    },
  })
  @ApiErrors([...BODY_ERRORS, ErrorCode.ChannelNotFound, ErrorCode.AmbiguousId, ErrorCode.ChannelNameTaken, ErrorCode.ChannelReadOnly])
  @ApiOperation({ summary: 'Change a channel; secrets not given stay as they are, `null` clears an optional field' })
  @ApiOkResponse({ type: ChannelResponse })
  async update(@Param('id') id: string, @Body() dto: UpdateChannelDto, @CurrentActor() actor: Actor) {
    return this.channels.view(await this.channels.update(id, dto, actor));
  }

  @Delete('channels/:id')
  @MinRole(Role.Admin)
  @ApiErrors([...CHANNEL_ERRORS, ErrorCode.ChannelReadOnly])
  @ApiOperation({ summary: 'Delete a channel; its queued deliveries end as failed' })
  @ApiOkResponse({ type: ChannelResponse })
  async remove(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.channels.view(await this.channels.remove(id, actor));
  }

  @Post('channels/:id/test')
  @HttpCode(200)
  @MinRole(Role.Admin)
  @ApiErrors(CHANNEL_ERRORS)
  @ApiOperation({ summary: "Send a test message now and report the receiver's answer (one try, recorded as a delivery)" })
  @ApiOkResponse({ type: ChannelTestResponse })
  async test(@Param('id') id: string, @CurrentActor() actor: Actor): Promise<ChannelTestResponse> {
    const channel = await this.channels.get(id);
    const r = await this.deliveries.test(channel, testNotice(channel.name));
    this.events.emit(ChannelEvents.Tested, { channel: this.channels.view(channel), actor, outcome: r.ok ? 'success' : 'failure', detail: { statusCode: r.statusCode } });
    return { delivered: r.ok, ...(r.statusCode !== undefined ? { statusCode: r.statusCode } : {}), answer: r.answer, durationMs: r.durationMs, deliveryId: r.deliveryId };
  }

  @Get('deliveries')
  @MinRole(Role.Operator)
  @ApiOperation({ summary: "Messages sent or being sent, newest first, each with every attempt's outcome and the receiver's answer" })
  @ApiOkResponse({ type: DeliveryPage })
  deliveriesList(@Query() q: ListDeliveriesQuery) {
    return this.deliveries.list(q);
  }

  @Get('alerts')
  @MinRole(Role.Operator)
  @ApiOperation({ summary: 'Conditions that alerted: those that hold now first, with their occurrences and suppressed repeats' })
  @ApiOkResponse({ type: [AlertConditionResponse] })
  conditions() {
    return this.alerts.list();
  }
}
