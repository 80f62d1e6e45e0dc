"""The public app's routes, one router per area; ``digitize.web.app`` holds the route table."""
