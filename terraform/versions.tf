terraform {
  required_version = ">= 1.5"
  required_providers {
    # 6.8: invoker_iam_disabled on google_cloud_run_v2_service.
    google = {
      source  = "hashicorp/google"
      version = ">= 6.8, < 8.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
