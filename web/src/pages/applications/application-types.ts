export interface AutoAcknowledge {
  enabled: boolean;
  subject: string;
  text: string;
}

/** An application (GET /api/v1/applications): routes the mail of its inbound mailboxes to a queue, and enables them. */
export interface Application {
  id: string;
  name: string;
  enabled: boolean;
  mailboxIds: string[];
  queueId: string;
  autoAcknowledge?: AutoAcknowledge;
  createdAt: string;
  updatedAt: string;
}

/** What an application sends to POST /api/v1/applications and PATCH /api/v1/applications/:id. */
export interface ApplicationInput {
  name: string;
  enabled: boolean;
  mailboxIds: string[];
  queueId: string;
  autoAcknowledge: AutoAcknowledge | null;
}
